using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Safeguard.Keys;

namespace Safeguard.Benchmarks;

/// <summary>
/// The processes of the gateway load test (bench/load/gateway.sh), besides the gateway itself:
/// <list type="bullet">
/// <item><c>gateway-rig OUT COUNT</c>: the upstream every variant forwards to (plain http on loopback, a 2-byte
/// answer), a stand-in authority (discovery and JWKS over TLS with an ES256 key made at start), one token to reuse and
/// COUNT distinct tokens, and the gateway's configuration; then waits until killed.</item>
/// <item><c>yarp-plain OUT UPSTREAM</c>: YARP over TLS with no authentication (the baseline).</item>
/// <item><c>yarp-jwtbearer OUT UPSTREAM AUTHORITY SHA256</c>: YARP over TLS behind Microsoft's <c>AddJwtBearer</c> (keys from
/// the same authority), no audit.</item>
/// </list>
/// Each writes the URL it serves to OUT/NAME.url once it listens.
/// </summary>
internal static class GatewayRig
{
    private const string Audience = "https://fhir.bench.example";

    public static async Task<int> RunAsync(string[] args)
    {
        var mode = args[0];
        var output = args[1];
        Directory.CreateDirectory(output);
        return mode switch
        {
            "gateway-rig" => await RigAsync(output, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)).ConfigureAwait(false),
            "yarp-plain" => await ProxyAsync(output, "yarp-plain", args[2], null, null).ConfigureAwait(false),
            "yarp-jwtbearer" => await ProxyAsync(output, "yarp-jwtbearer", args[2], args[3], args[4]).ConfigureAwait(false),
            _ => 2,
        };
    }

    private static async Task<int> RigAsync(string output, int count)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(false);
        var kid = KeyIds.EcThumbprint("P-256", parameters.Q.X, parameters.Q.Y);
        using var certificate = SelfSigned();

        var upstreamBuilder = WebApplication.CreateSlimBuilder();
        upstreamBuilder.Logging.ClearProviders();
        upstreamBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var upstream = upstreamBuilder.Build();
        // Counts what the gateway forwarded (its routes keep their /durable and /buffered prefixes); GET /__count tells.
        var forwarded = 0L;
        upstream.Run(context =>
        {
            var path = context.Request.Path.Value ?? string.Empty;
            if (path == "/__count")
            {
                return context.Response.WriteAsync(Interlocked.Read(ref forwarded).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (path.StartsWith("/durable/", StringComparison.Ordinal) || path.StartsWith("/buffered/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref forwarded);
            }

            return context.Response.WriteAsync("ok");
        });
        await upstream.StartAsync().ConfigureAwait(false);

        var authorityBuilder = WebApplication.CreateSlimBuilder();
        authorityBuilder.Logging.ClearProviders();
        authorityBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        await using var authorityApp = authorityBuilder.Build();
        string? issuer = null;
        var jwks = JsonSerializer.Serialize(new { keys = new[] { new { kty = "EC", crv = "P-256", x = Base64Url.EncodeToString(parameters.Q.X), y = Base64Url.EncodeToString(parameters.Q.Y), kid, alg = "ES256", use = "sig" } } });
        authorityApp.MapGet("/.well-known/oauth-authorization-server", () => Results.Json(new { issuer, jwks_uri = issuer + "/jwks", token_endpoint = issuer + "/token" }));
        authorityApp.MapGet("/.well-known/openid-configuration", () => Results.Json(new { issuer, jwks_uri = issuer + "/jwks", token_endpoint = issuer + "/token" }));
        authorityApp.MapGet("/jwks", () => Results.Text(jwks, "application/json"));
        await authorityApp.StartAsync().ConfigureAwait(false);
        issuer = authorityApp.Urls.Single();

        // Tokens as Safeguard issues them (RFC 9068, ES256), each distinct, valid for 15 minutes.
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { alg = "ES256", typ = "at+jwt", kid })));
        string Mint(int i)
        {
            var payload = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["iss"] = issuer!, ["sub"] = "bench-app", ["aud"] = Audience, ["exp"] = now + 900, ["iat"] = now, ["nbf"] = now,
                ["jti"] = "bench-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["client_id"] = "bench-app", ["scope"] = "patient.read",
            });
            var input = header + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
            using var signer = ECDsa.Create(key.ExportParameters(true));
            return input + "." + Base64Url.EncodeToString(signer.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
        }

        await File.WriteAllTextAsync(Path.Combine(output, "token.txt"), Mint(0)).ConfigureAwait(false);
        var tokens = new string[count];
        Parallel.For(0, count, i => tokens[i] = Mint(i + 1));
        await File.WriteAllLinesAsync(Path.Combine(output, "tokens.txt"), tokens).ConfigureAwait(false);

        var sha = Convert.ToHexString(SHA256.HashData(certificate.RawData));
        var gateway = new
        {
            Gateway = new
            {
                Listen = new[] { "https://127.0.0.1:0" },
                DataPath = Path.Combine(output, "gateway-data"),
                Authority = issuer,
                AuthorityCertificateSha256 = sha,
                Audience,
                Routes = new Dictionary<string, object>
                {
                    ["durable"] = new { Path = "/durable/{**rest}", Cluster = "upstream", Scopes = new[] { "patient.read" }, Audit = "Durable" },
                    ["buffered"] = new { Path = "/buffered/{**rest}", Cluster = "upstream", Scopes = new[] { "patient.read" }, Audit = "Buffered" },
                },
                Clusters = new Dictionary<string, object> { ["upstream"] = new { Destinations = new[] { upstream.Urls.Single() } } },
            },
            Logging = new { LogLevel = new { Default = "Warning" } },
        };
        await File.WriteAllTextAsync(Path.Combine(output, "gateway.json"), JsonSerializer.Serialize(gateway)).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(output, "rig.env"),
            $"UPSTREAM={upstream.Urls.Single()}\nAUTHORITY={issuer}\nAUTHORITY_SHA256={sha}\n").ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(output, "rig.url"), issuer).ConfigureAwait(false);

        // Until SIGTERM (or Ctrl+C): the hosts take the signal, so a bare wait would keep the process alive after it.
        await upstream.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> ProxyAsync(string output, string name, string upstream, string? authority, string? sha)
    {
        using var certificate = SelfSigned();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate));
        });
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new Yarp.ReverseProxy.Configuration.RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new() { Path = "/{**rest}" }, AuthorizationPolicy = authority is null ? null : "token" }],
            [new Yarp.ReverseProxy.Configuration.ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, Yarp.ReverseProxy.Configuration.DestinationConfig> { ["u"] = new() { Address = upstream } } }]);
        if (authority is not null)
        {
            builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            {
                o.Authority = authority;
                o.Audience = Audience;
                o.MapInboundClaims = false;
                o.BackchannelHttpHandler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, c, _, _) => c is not null && Convert.ToHexString(SHA256.HashData(c.RawData)) == sha };
                o.TokenValidationParameters.ValidAlgorithms = ["ES256"];
            });
            builder.Services.AddAuthorizationBuilder().AddPolicy("token", p => p.RequireAuthenticatedUser().RequireClaim("scope", "patient.read"));
        }

        var app = builder.Build();
        if (authority is not null)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        app.MapReverseProxy();
        await app.StartAsync().ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(output, name + ".url"), app.Urls.Single()).ConfigureAwait(false);
        await app.WaitForShutdownAsync().ConfigureAwait(false); // until SIGTERM
        return 0;
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

}
