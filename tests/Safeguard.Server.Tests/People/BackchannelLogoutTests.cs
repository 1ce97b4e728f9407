using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Audit;
using Safeguard.Server.SignIn;
using Safeguard.Sessions;
using Safeguard.Tokens;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// OIDC Back-Channel Logout over the real server: a client's HTTPS endpoint (a real Kestrel on loopback, its
/// certificate pinned by the server's sender) receives a signed logout token when a session it was part of ends.
/// </summary>
public sealed class BackchannelLogoutTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "copper lantern orchard meadow";

    private readonly Channel<string> _received = Channel.CreateUnbounded<string>();
    private WebApplication _receiver = null!;
    private X509Certificate2 _receiverCertificate = null!;
    private RunningServer _server = null!;
    private int _status = 200;

    public async Task InitializeAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var created = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddHours(1));
        _receiverCertificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(_receiverCertificate)));
        _receiver = builder.Build();
        _receiver.MapPost("/backchannel", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            await _received.Writer.WriteAsync(form["logout_token"].ToString());
            return Results.StatusCode(_status);
        });
        await _receiver.StartAsync();
        var receiverUrl = _receiver.Urls.Single().Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/backchannel";

        var pinned = _receiverCertificate.GetCertHashString();
        _server = await RunningServer.StartWithAsync(services => services.AddSingleton(new BackchannelLogoutHttp(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == pinned },
        })), dataPath: null);
        await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, backchannelLogoutUri: receiverUrl);
        await _server.AddCodeFlowClientAsync("other-app", "https://other.example.org/cb", backchannelLogoutUri: receiverUrl);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
        _receiverCertificate.Dispose();
    }

    [Fact]
    public async Task SigningOut_SendsTheSessionsClientsASignedLogoutToken()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(AuthorizeUrl(), "jsmith", Password, () => _server.TotpCode(totp!));
        Assert.Equal(HttpStatusCode.SeeOther, back.StatusCode);
        var session = Assert.Single(await _server.Services.GetRequiredService<ISessionStore>().GetActiveForUserAsync(user.Subject, CancellationToken.None));
        Assert.Equal(["chart-app"], session.ClientIds);

        await browser.GetAsync("/");
        await browser.PostAsync("/signout");

        var token = await _received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        var jwt = new JsonWebToken(token);
        Assert.Equal(LogoutTokenIssuer.TokenType, jwt.Typ);
        Assert.Equal(["chart-app"], jwt.Audiences);
        Assert.Equal(_server.Issuer, jwt.Issuer);
        Assert.Equal(user.Subject, jwt.Subject);
        Assert.Equal(session.Id, jwt.GetClaim("sid").Value);
        Assert.True(jwt.TryGetPayloadValue<Dictionary<string, object>>("events", out var events) && events.ContainsKey(LogoutTokenIssuer.BackchannelLogoutEvent));
        Assert.False(jwt.TryGetClaim("nonce", out _));
        Assert.NotEmpty(jwt.Id);

        using var http = _server.CreateClient();
        var jwks = new JsonWebKeySet(await http.GetStringAsync("/jwks"));
        var validated = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = _server.Issuer,
            ValidAudience = "chart-app",
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = [LogoutTokenIssuer.TokenType],
            ClockSkew = TimeSpan.FromMinutes(10),
        });
        Assert.True(validated.IsValid, validated.Exception?.Message);
        // The token is no access token or ID token.
        Assert.False(_server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(token).IsValid);

        // Only the client in the session was told.
        await Task.Delay(500);
        Assert.False(_received.Reader.TryRead(out _));
        var delivered = await WaitForAuditAsync(e => e.ResourceType == "backchannel_logout" && e.SessionId == session.Id);
        Assert.Equal(AuditOutcome.Success, delivered.Outcome);
        Assert.Equal("chart-app", delivered.ClientId);
    }

    [Fact]
    public async Task AClientThatDoesNotAnswer200_IsTriedThreeTimes_AndTheFailureIsAudited()
    {
        _status = 500;
        var (user, totp) = await _server.AddUserAsync("mchen", Password);
        using var browser = new FormBrowser(_server);
        await browser.SignInThroughAsync(AuthorizeUrl(), "mchen", Password, () => _server.TotpCode(totp!));
        var session = Assert.Single(await _server.Services.GetRequiredService<ISessionStore>().GetActiveForUserAsync(user.Subject, CancellationToken.None));

        await _server.Services.GetRequiredService<SessionManager>().EndAsync(session.Id, "ended by an administrator", CancellationToken.None);

        await _received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        for (var attempt = 2; attempt <= 3; attempt++)
        {
            var next = _received.Reader.ReadAsync().AsTask();
            while (!next.IsCompleted)
            {
                _server.Time.Advance(TimeSpan.FromSeconds(1));
                await Task.WhenAny(next, Task.Delay(50));
            }

            await next;
        }

        var failed = await WaitForAuditAsync(e => e.ResourceType == "backchannel_logout" && e.SessionId == session.Id);
        Assert.Equal(AuditOutcome.Error, failed.Outcome);
        Assert.Contains("HTTP 500", failed.Reason, StringComparison.Ordinal);
    }

    private async Task<AuditEvent> WaitForAuditAsync(Func<AuditEvent, bool> match)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await _server.AuditEventsAsync()).FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the audit event did not arrive");
    }

    private static string AuthorizeUrl() =>
        "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
        + "&scope=openid%20patient.read&state=s&code_challenge=" + FormBrowser.Pkce().Challenge + "&code_challenge_method=S256";
}
