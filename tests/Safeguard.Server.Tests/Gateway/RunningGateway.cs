using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Audit;
using Safeguard.Gateway;

namespace Safeguard.Server.Tests.Gateway;

/// <summary>
/// A real upstream on loopback (plain http, counting what reaches it and keeping its headers) behind the real gateway
/// over TLS, against a real Safeguard server; a client that pins the gateway's certificate.
/// </summary>
internal sealed class RunningGateway : IAsyncDisposable
{
    public const string Audience = "https://fhir.example.org";

    private RunningGateway(WebApplication upstream, WebApplication gateway, string dataPath)
    {
        Upstream = upstream;
        App = gateway;
        DataPath = dataPath;
        var pinned = gateway.Services.GetRequiredService<GatewayCertificate>().Certificate.GetCertHashString();
        Http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == pinned },
        })
        { BaseAddress = new Uri(gateway.Urls.Single()) };
    }

    public WebApplication Upstream { get; }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    public string DataPath { get; }

    /// <summary>How many requests reached the upstream.</summary>
    public int Reached => UpstreamRequests.Count;

    /// <summary>The headers of each request that reached the upstream, in order.</summary>
    public ConcurrentQueue<Dictionary<string, string>> UpstreamRequests { get; } = new();

    /// <summary>The body of each request the upstream received, in order.</summary>
    public ConcurrentQueue<string> UpstreamBodies { get; } = new();

    /// <summary>The upstream's certificate when it serves https (its SHA-256, for a cluster pin).</summary>
    public string? UpstreamCertificateSha256 { get; private set; }

    public static async Task<RunningGateway> StartAsync(RunningServer server, Action<Dictionary<string, string?>>? configure = null, bool httpsUpstream = false)
    {
        RunningGateway? created = null;
        var upstreamBuilder = WebApplication.CreateSlimBuilder();
        System.Security.Cryptography.X509Certificates.X509Certificate2? upstreamCertificate = null;
        if (httpsUpstream)
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            using var made = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=ehr.internal", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
                .CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddHours(1));
            upstreamCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(made.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        }

        upstreamBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            if (upstreamCertificate is not null)
            {
                l.UseHttps(upstreamCertificate);
            }
        }));
        var upstream = upstreamBuilder.Build();
        upstream.Run(async context =>
        {
            created!.UpstreamBodies.Enqueue(await new StreamReader(context.Request.Body).ReadToEndAsync());
            created.UpstreamRequests.Enqueue(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
            context.Response.StatusCode = context.Request.Path.StartsWithSegments("/fhir/teapot", StringComparison.Ordinal) ? 418 : 200;
            await context.Response.WriteAsync("upstream:" + context.Request.Path);
        });
        await upstream.StartAsync();

        var dataPath = Path.Combine(Path.GetTempPath(), "sg-gw-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Listen:0"] = "https://127.0.0.1:0",
            ["Gateway:DataPath"] = dataPath,
            ["Gateway:Authority"] = server.Issuer,
            ["Gateway:AuthorityCertificateSha256"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(server.ServerCertificate.RawData)),
            ["Gateway:Audience"] = Audience,
            ["Gateway:Audit:DurableCommitTimeout"] = "00:00:00.500",
            ["Gateway:Routes:fhir:Path"] = "/fhir/{**rest}",
            ["Gateway:Routes:fhir:Cluster"] = "ehr",
            ["Gateway:Routes:fhir:Scopes:0"] = "patient.read",
            ["Gateway:Routes:fhir:Fhir"] = "true",
            ["Gateway:Routes:fhir:FhirBase"] = "/fhir",
            ["Gateway:Routes:buffered:Path"] = "/buffered/{**rest}",
            ["Gateway:Routes:buffered:Cluster"] = "ehr",
            ["Gateway:Routes:buffered:Scopes:0"] = "patient.read",
            ["Gateway:Routes:buffered:Audit"] = "Buffered",
            ["Gateway:Routes:dpop:Path"] = "/dpop/{**rest}",
            ["Gateway:Routes:dpop:Cluster"] = "ehr",
            ["Gateway:Routes:dpop:Scopes:0"] = "patient.read",
            ["Gateway:Routes:dpop:RequireDpop"] = "true",
            ["Gateway:Routes:admin:Path"] = "/admin/{**rest}",
            ["Gateway:Routes:admin:Cluster"] = "ehr",
            ["Gateway:Routes:admin:Scopes:0"] = "patient.write",
            ["Gateway:Routes:clinical:Path"] = "/clinical/{**rest}",
            ["Gateway:Routes:clinical:Cluster"] = "ehr",
            ["Gateway:Routes:clinical:Scopes:0"] = "patient.read",
            ["Gateway:Routes:clinical:Roles:0"] = "clinician",
            ["Gateway:Routes:mfa:Path"] = "/mfa/{**rest}",
            ["Gateway:Routes:mfa:Cluster"] = "ehr",
            ["Gateway:Routes:mfa:Scopes:0"] = "patient.read",
            ["Gateway:Routes:mfa:Acr:0"] = "http://idmanagement.gov/ns/assurance/aal/2",
            ["Gateway:Routes:recent:Path"] = "/recent/{**rest}",
            ["Gateway:Routes:recent:Cluster"] = "ehr",
            ["Gateway:Routes:recent:Scopes:0"] = "patient.read",
            ["Gateway:Routes:recent:MaxAge"] = "00:05:00",
            ["Gateway:Clusters:ehr:Destinations:0"] = upstream.Urls.Single(),
        };
        if (upstreamCertificate is not null)
        {
            settings["Gateway:Clusters:ehr:CertificateSha256"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(upstreamCertificate.RawData));
        }

        configure?.Invoke(settings);
        var gateway = SafeguardGateway.Build(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        await gateway.StartAsync();
        created = new RunningGateway(upstream, gateway, dataPath)
        {
            UpstreamCertificateSha256 = upstreamCertificate is null ? null : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(upstreamCertificate.RawData)),
        };
        return created;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? scheme, string? token, params (string Name, string Value)[] headers)
    {
        using var message = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue(scheme ?? "Bearer", token);
        }

        foreach (var (name, value) in headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(message);
    }

    /// <summary>Every committed event of the gateway's trail.</summary>
    public Task<List<AuditEvent>> AuditEventsAsync() => Resource.SampleApi.ReadTrailAsync(App, DataPath);

    /// <summary>The trail once at least <paramref name="count"/> events match (Buffered ones commit a moment after the answer).</summary>
    public async Task<List<AuditEvent>> EventuallyAsync(Func<AuditEvent, bool> match, int count, int seconds = 10)
    {
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(seconds);
        var events = await AuditEventsAsync();
        while (events.Count(match) < count && TimeProvider.System.GetUtcNow() < deadline)
        {
            await Task.Delay(50);
            events = await AuditEventsAsync();
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
        await Upstream.DisposeAsync();
        try
        {
            Directory.Delete(DataPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
