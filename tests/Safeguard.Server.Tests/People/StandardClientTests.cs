using System.Net.Security;
using Duende.IdentityModel.OidcClient;
using Duende.IdentityModel.OidcClient.Browser;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Tokens;

namespace Safeguard.Server.Tests.People;

/// <summary>Standard OpenID Connect clients complete the flows against Safeguard unchanged.</summary>
public sealed class StandardClientTests : IAsyncLifetime
{
    private const string Password = "saffron ledger pebble harbor";
    private const string NativeRedirect = "http://127.0.0.1:7891/callback";

    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task DuendeOidcClient_AsANativePublicClient_SignsInWithPkce_ValidatesTheIdToken_AndRefreshes()
    {
        await _server.AddCodeFlowClientAsync("native-app", NativeRedirect, secret: false, refresh: true);
        var (user, totp) = await _server.AddUserAsync("native.user", Password);
        var client = new OidcClient(new OidcClientOptions
        {
            Authority = _server.Issuer,
            ClientId = "native-app",
            Scope = "openid patient.read",
            RedirectUri = NativeRedirect,
            Browser = new PagesBrowser(_server, "native.user", Password, () => _server.TotpCode(totp!)),
            BackchannelHandler = PinnedHandler(),
            LoadProfile = true, // OidcClient calls /userinfo and checks its sub against the ID token
            Policy = { RequireAccessTokenHash = true, RequireIdentityTokenSignature = true },
            IdentityTokenValidator = new JwksIdentityTokenValidator(_server),
        });

        var login = await client.LoginAsync();

        Assert.False(login.IsError, login.Error + " " + login.ErrorDescription);
        Assert.Equal(user.Subject, login.User.FindFirst("sub")?.Value);
        Assert.NotNull(login.RefreshToken);
        var access = _server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(login.AccessToken);
        Assert.True(access.IsValid, access.ErrorCode);
        Assert.Equal("native-app", access.Token!.ClientId);

        var refreshed = await client.RefreshTokenAsync(login.RefreshToken);

        Assert.False(refreshed.IsError, refreshed.Error + " " + refreshed.ErrorDescription);
        Assert.NotEqual(login.RefreshToken, refreshed.RefreshToken);
        Assert.True(_server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(refreshed.AccessToken).IsValid);
        var reuse = await client.RefreshTokenAsync(login.RefreshToken);
        Assert.True(reuse.IsError);
    }

    private SocketsHttpHandler PinnedHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == _server.ServerCertificate.GetCertHashString(),
        },
    };

    /// <summary>
    /// OidcClient leaves signature checking to a validator of the host's choice: this one uses Microsoft's
    /// JsonWebTokenHandler with the server's JWKS, requiring typ JWT, ES256, the issuer and the client as audience.
    /// </summary>
    private sealed class JwksIdentityTokenValidator(RunningServer server) : IIdentityTokenValidator
    {
        public async Task<Duende.IdentityModel.OidcClient.Results.IdentityTokenValidationResult> ValidateAsync(string identityToken, OidcClientOptions options, CancellationToken cancellationToken = default)
        {
            using var http = server.CreateClient();
            var keys = new Microsoft.IdentityModel.Tokens.JsonWebKeySet(await http.GetStringAsync("/jwks", cancellationToken)).GetSigningKeys();
            var result = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(identityToken, new Microsoft.IdentityModel.Tokens.TokenValidationParameters
            {
                ValidIssuer = options.Authority,
                ValidAudience = options.ClientId,
                IssuerSigningKeys = keys,
                ValidTypes = ["JWT"],
                ValidAlgorithms = ["ES256"],
                ClockSkew = TimeSpan.FromSeconds(60),
                LifetimeValidator = (notBefore, expires, _, _) => expires is { } e && e > server.Time.GetUtcNow().UtcDateTime,
            });
            return result.IsValid
                ? new Duende.IdentityModel.OidcClient.Results.IdentityTokenValidationResult { User = new System.Security.Claims.ClaimsPrincipal(result.ClaimsIdentity), SignatureAlgorithm = "ES256" }
                : new Duende.IdentityModel.OidcClient.Results.IdentityTokenValidationResult { Error = result.Exception?.Message ?? "invalid identity token" };
        }
    }

    /// <summary>OidcClient's browser: walks the sign-in pages and hands back the redirect to the app.</summary>
    private sealed class PagesBrowser(RunningServer server, string username, string password, Func<string> totp) : IBrowser
    {
        public async Task<BrowserResult> InvokeAsync(BrowserOptions options, CancellationToken cancellationToken = default)
        {
            using var browser = new FormBrowser(server);
            var back = await browser.SignInThroughAsync(options.StartUrl, username, password, totp);
            var location = back.Headers.Location?.OriginalString;
            return location is not null && location.StartsWith(options.EndUrl, StringComparison.Ordinal)
                ? new BrowserResult { ResultType = BrowserResultType.Success, Response = location }
                : new BrowserResult { ResultType = BrowserResultType.UnknownError, Error = $"the sign-in ended at {(int)back.StatusCode} {location}" };
        }
    }
}
