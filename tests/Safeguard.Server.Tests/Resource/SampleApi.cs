using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.AspNetCore;
using Safeguard.Audit;
using Safeguard.Storage.Audit;

namespace Safeguard.Server.Tests.Resource;

/// <summary>
/// A sample ASP.NET Core API on its own Kestrel over TLS, protected by <c>AddSafeguardJwt</c> against a real Safeguard
/// server (its certificate pinned), with the endpoints a test maps; and a client that calls it.
/// </summary>
internal sealed class SampleApi : IAsyncDisposable
{
    public const string Audience = "https://api.example.org";

    private readonly X509Certificate2 _certificate;

    private SampleApi(WebApplication app, X509Certificate2 certificate, string dataPath)
    {
        App = app;
        _certificate = certificate;
        DataPath = dataPath;
        var pinned = certificate.GetCertHashString();
        Http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == pinned },
        })
        { BaseAddress = new Uri(app.Urls.Single()) };
    }

    public WebApplication App { get; }

    public HttpClient Http { get; }

    /// <summary>The resource's own data folder (its audit trail).</summary>
    public string DataPath { get; }

    public static async Task<SampleApi> StartAsync(
        RunningServer server, Action<WebApplicationBuilder> services, Action<WebApplication> endpoints, Action<SafeguardAuditOptions>? audit = null, Action<SafeguardJwtOptions>? jwt = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var created = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256).CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddHours(1));
        var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        var authorityCertificate = server.ServerCertificate.GetCertHashString();
        var dataPath = Path.Combine(Path.GetTempPath(), "sg-api-" + Guid.NewGuid().ToString("N"));
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        builder.Services.AddAuthentication().AddSafeguardJwt(o =>
        {
            o.Authority = server.Issuer;
            o.Audience = Audience;
            o.UnknownKeyRefreshInterval = TimeSpan.FromSeconds(1);
            o.BackchannelHandler = new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == authorityCertificate },
            };
            jwt?.Invoke(o);
        });
        builder.Services.AddSafeguardAudit(o =>
        {
            o.DataPath = dataPath;
            audit?.Invoke(o);
        });
        services(builder);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        endpoints(app);
        await app.StartAsync();
        return new SampleApi(app, certificate, dataPath);
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? token, params (string Name, string Value)[] headers)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        foreach (var (name, value) in headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(message);
    }

    /// <summary>Every committed event of the resource's trail.</summary>
    public Task<List<AuditEvent>> AuditEventsAsync() => ReadTrailAsync(App, DataPath);

    /// <summary>Every committed event of a resource's trail (an API's or the gateway's), read through a second store on its database.</summary>
    public static async Task<List<AuditEvent>> ReadTrailAsync(WebApplication app, string dataPath)
    {
        var chain = app.Services.GetRequiredService<SafeguardResourceAudit>().Chain;
        using var store = new SqliteAuditStore(Path.Combine(dataPath, "audit.db"));
        var events = new List<AuditEvent>();
        await foreach (var record in store.ReadChainAsync(chain, 1, CancellationToken.None))
        {
            Assert.True(AuditEventParser.TryParse(record.Body, out var parsed));
            events.Add(parsed);
        }

        return events;
    }

    /// <summary>A client-credentials token for this API from the server.</summary>
    public static async Task<string> TokenAsync(RunningServer server, string clientId, string secret, string scope, string resource = Audience)
    {
        using var http = server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = scope, ["resource"] = resource }),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":" + secret)));
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException(json.RootElement.ToString());
        }

        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
        _certificate.Dispose();
        try
        {
            Directory.Delete(DataPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
