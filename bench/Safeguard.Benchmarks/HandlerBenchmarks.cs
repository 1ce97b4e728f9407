using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.AspNetCore;
using Safeguard.Keys;

namespace Safeguard.Benchmarks;

/// <summary>
/// <c>handler_new_minus_raw_verify</c> (issue 12): the <c>AddSafeguardJwt</c> handler in process, authenticating a
/// request whose token it has never seen (ASP.NET Core's authentication service, the handler, the strict reader,
/// the validator, the principal), against a raw ECDSA P-256 verify of the same kind of token. Keys come from a
/// stand-in authority answered in memory (no network). Every token is used once: when the pool runs out, the
/// services (and so the verified-token cache) are built again.
/// </summary>
public class HandlerBenchmarks
{
    private const int Batch = 256;
    private const int Pool = 120_000;
    private const string Authority = "https://authority.bench.example";
    private const string Audience = "https://fhir.bench.example";

    private ECDsa _key = null!;
    private string[] _tokens = null!;
    private byte[][] _inputs = null!;
    private byte[][] _signatures = null!;
    private ServiceProvider _services = null!;
    private string _jwks = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = _key.ExportParameters(false);
        var kid = KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y);
        _jwks = JsonSerializer.Serialize(new { keys = new[] { new { kty = "EC", crv = "P-256", x = Base64Url.EncodeToString(p.Q.X), y = Base64Url.EncodeToString(p.Q.Y), kid, alg = "ES256", use = "sig" } } });
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { alg = "ES256", typ = "at+jwt", kid })));
        var privateKey = _key.ExportParameters(true);
        _tokens = new string[Pool];
        Parallel.For(0, Pool, () => ECDsa.Create(privateKey), (i, _, signer) =>
        {
            var payload = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["iss"] = Authority, ["sub"] = "bench-app", ["aud"] = Audience, ["exp"] = now + 900, ["iat"] = now, ["nbf"] = now,
                ["jti"] = "h" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ["client_id"] = "bench-app", ["scope"] = "patient.read",
            });
            var input = header + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
            _tokens[i] = input + "." + Base64Url.EncodeToString(signer.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
            return signer;
        }, signer => signer.Dispose());
        _inputs = [.. _tokens.Take(Batch).Select(t => Encoding.ASCII.GetBytes(t[..t.LastIndexOf('.')]))];
        _signatures = [.. _tokens.Take(Batch).Select(t => Base64Url.DecodeFromChars(t.AsSpan(t.LastIndexOf('.') + 1)))];
        Build();
        if (HandlerNew().GetAwaiter().GetResult() != Batch || RawVerify() != Batch)
        {
            throw new InvalidOperationException("The benchmark tokens do not authenticate; the figures would measure the failure path.");
        }

        // And a token it has not seen with a broken signature must not: else the figure measures a cache, not the handler.
        var last = _tokens[Pool - 1];
        var broken = last[..^4] + (last[^4] == 'A' ? "B" : "A") + last[^3..];
        using var scope = _services.CreateScope();
        var probe = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        probe.Request.Headers.Authorization = "Bearer " + broken;
        if (probe.AuthenticateAsync(SafeguardJwtDefaults.AuthenticationScheme).GetAwaiter().GetResult().Succeeded)
        {
            throw new InvalidOperationException("A broken signature authenticated: the benchmark is not measuring verification.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        _key.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task<int> HandlerNew()
    {
        if (_next + Batch > Pool)
        {
            Build();
        }

        var authenticated = 0;
        for (var i = 0; i < Batch; i++)
        {
            // A scope per request, as ASP.NET Core makes one: the handler provider (and so the handler) is per request.
            await using var scope = _services.CreateAsyncScope();
            var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
            context.Request.Method = "GET";
            context.Request.Scheme = "https";
            context.Request.Host = new HostString("fhir.bench.example");
            context.Request.Path = "/fhir/Patient/1";
            context.Request.Headers.Authorization = "Bearer " + _tokens[_next++];
            if ((await context.AuthenticateAsync(SafeguardJwtDefaults.AuthenticationScheme).ConfigureAwait(false)).Succeeded)
            {
                authenticated++;
            }
        }

        return authenticated;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RawVerify()
    {
        var verified = 0;
        for (var i = 0; i < Batch; i++)
        {
            if (_key.VerifyData(_inputs[i], _signatures[i], HashAlgorithmName.SHA256))
            {
                verified++;
            }
        }

        return verified;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public Task<int> HandlerNewAgain() => HandlerNew();

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RawVerifyAgain() => RawVerify();

    /// <summary>Fresh services, so a fresh verified-token cache, and the pool from its start.</summary>
    private void Build()
    {
        _services?.Dispose();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication().AddSafeguardJwt(o =>
        {
            o.Authority = Authority;
            o.Audience = Audience;
            o.BackchannelHandler = new InMemoryAuthority(_jwks);
        });
        _services = services.BuildServiceProvider();
        _next = 0;
    }

    /// <summary>The authority's discovery document and JWKS, answered from memory.</summary>
    private sealed class InMemoryAuthority(string jwks) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.RequestUri!.AbsolutePath switch
            {
                "/.well-known/oauth-authorization-server" => JsonSerializer.Serialize(new { issuer = Authority, jwks_uri = Authority + "/jwks" }),
                "/jwks" => jwks,
                _ => null,
            };
            return Task.FromResult(body is null
                ? new HttpResponseMessage(HttpStatusCode.NotFound)
                : new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
