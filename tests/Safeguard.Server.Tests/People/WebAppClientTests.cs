using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// ASP.NET Core's own OpenID Connect handler, in a small web app over TLS, signs a person in through Safeguard in a
/// real browser (Chromium): challenge, sign-in pages, code exchange with PKCE, ID token validation by the handler.
/// The app is configured as any app would be; only its client secret travels in HTTP Basic (RFC 6749's required
/// method; the handler's default of a secret in the form body is refused by Safeguard).
/// </summary>
public sealed class WebAppClientTests : IAsyncLifetime
{
    private const string Password = "marigold station copper dune";

    private RunningServer _server = null!;
    private WebApplication _app = null!;
    private X509Certificate2 _appCertificate = null!;
    private string _appAddress = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _appCertificate = SelfSigned();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(_appCertificate)));
        builder.Services.AddAuthentication(options =>
            {
                options.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                options.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
            })
            .AddCookie()
            .AddOpenIdConnect(options =>
            {
                options.Authority = _server.Issuer;
                options.ClientId = "web-app";
                options.ResponseType = "code";
                options.ResponseMode = "query";
                options.UsePkce = true;
                options.Scope.Clear();
                options.Scope.Add("openid");
                options.Scope.Add("patient.read");
                options.MapInboundClaims = false;
                options.GetClaimsFromUserInfoEndpoint = true; // the handler calls /userinfo with the access token, as by default
                options.SaveTokens = true;
                options.ClaimActions.Remove("acr"); // the handler drops acr by default; an app that checks MFA keeps it
                options.BackchannelHttpHandler = new BasicSecretHandler(_server, () => _secret!);
            });
        builder.Services.AddAuthorization();
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGet("/", (HttpContext context) => Results.Text("Hello " + context.User.FindFirst("sub")?.Value + " acr=" + context.User.FindFirst("acr")?.Value)).RequireAuthorization();
        await _app.StartAsync();
        _appAddress = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);
        _secret = await _server.AddCodeFlowClientAsync("web-app", _appAddress + "/signin-oidc");
    }

    private string? _secret;

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _appCertificate.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AspNetCoresOpenIdConnectHandler_SignsAPersonIn_ThroughTheRealPages()
    {
        var chromium = Environment.GetEnvironmentVariable("SAFEGUARD_TEST_CHROMIUM") ?? "/usr/bin/chromium";
        var (user, totp) = await _server.AddUserAsync("web.user", Password);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--ignore-certificate-errors-spki-list=" + Spki(_server.ServerCertificate) + "," + Spki(_appCertificate)],
        });
        var page = await browser.NewPageAsync();

        await page.GotoAsync(_appAddress + "/");
        await page.WaitForURLAsync("**/signin?request=*");
        await page.GetByLabel("Username").FillAsync("web.user");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(_appAddress + "/");

        var body = await page.Locator("body").InnerTextAsync();
        Assert.Contains("Hello " + user.Subject, body, StringComparison.Ordinal);
        Assert.Contains("acr=http://idmanagement.gov/ns/assurance/aal/2", body, StringComparison.Ordinal);
    }

    private static string Spki(X509Certificate2 certificate) => Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=web-app.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The app's back channel to Safeguard: pins its certificate and sends the client secret in HTTP Basic.</summary>
    private sealed class BasicSecretHandler : DelegatingHandler
    {
        private readonly Func<string> _secret;

        public BasicSecretHandler(RunningServer server, Func<string> secret)
            : base(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == server.ServerCertificate.GetCertHashString(),
                },
            })
        {
            _secret = secret;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Post && request.Content is FormUrlEncodedContent form)
            {
                var fields = (await form.ReadAsStringAsync(cancellationToken)).Split('&')
                    .Where(f => !f.StartsWith("client_id=", StringComparison.Ordinal) && !f.StartsWith("client_secret=", StringComparison.Ordinal))
                    .Select(f => f.Split('=', 2)).ToDictionary(f => Uri.UnescapeDataString(f[0]), f => Uri.UnescapeDataString(f[1].Replace('+', ' ')));
                request.Content = new FormUrlEncodedContent(fields);
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("web-app:" + _secret())));
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
