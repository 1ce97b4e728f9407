using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.People;

/// <summary>Rotating refresh tokens bound to the session: reuse revokes the family, the session's limits end them, logout and revocation too.</summary>
public sealed class RefreshTokenTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "amber quay willow compass";

    private RunningServer _server = null!;
    private string _secret = null!;
    private string _noRefreshSecret = null!;

    public async Task InitializeAsync()
    {
        // A 45-minute absolute lifetime keeps the absolute-limit test short; the idle timeout is the default 15 minutes.
        _server = await RunningServer.StartAsync(null, null, "--Safeguard:Sessions:AbsoluteLifetime=00:45:00");
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, scopes: ["patient.read", "patient.write"], refresh: true))!;
        _noRefreshSecret = (await _server.AddCodeFlowClientAsync("no-refresh-app", "https://norefresh.example.org/cb"))!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task EachRefreshRotates_AndAReusedTokenRevokesTheWholeFamily()
    {
        var first = await SignInAsync("rotating.user");

        var second = await RefreshAsync(first.Refresh);
        var third = await RefreshAsync(second.Json.GetProperty("refresh_token").GetString()!);
        var reuse = await RefreshAsync(first.Refresh);
        var afterReuse = await RefreshAsync(third.Json.GetProperty("refresh_token").GetString()!);

        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.NotEqual(first.Refresh, second.Json.GetProperty("refresh_token").GetString());
        Assert.Equal(HttpStatusCode.OK, third.Status);
        Assert.Equal("invalid_grant", reuse.Json.GetProperty("error").GetString());
        Assert.Equal("invalid_grant", afterReuse.Json.GetProperty("error").GetString()); // the newest token died with its family
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.RefreshReuseDetected && e.Subject == first.Subject);
    }

    [Fact]
    public async Task ARefreshIsActivity_ButPastTheIdleTimeoutItFails_AndEndsTheSession()
    {
        var tokens = await SignInAsync("idle.refresher");
        _server.Time.Advance(TimeSpan.FromMinutes(10));
        var kept = await RefreshAsync(tokens.Refresh);
        _server.Time.Advance(TimeSpan.FromMinutes(10)); // 20 minutes after sign-in, 10 after the last refresh

        var stillAlive = await RefreshAsync(kept.Json.GetProperty("refresh_token").GetString()!);
        _server.Time.Advance(TimeSpan.FromMinutes(16));
        var idle = await RefreshAsync(stillAlive.Json.GetProperty("refresh_token").GetString()!);

        Assert.Equal(HttpStatusCode.OK, kept.Status);
        Assert.Equal(HttpStatusCode.OK, stillAlive.Status);
        Assert.Equal("invalid_grant", idle.Json.GetProperty("error").GetString());
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionTimedOut && e.Subject == tokens.Subject && e.Reason!.Contains("idle", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PastTheAbsoluteLifetime_NoRefreshWorks_HoweverActive()
    {
        var tokens = await SignInAsync("busy.user");
        var refresh = tokens.Refresh;
        for (var i = 0; i < 3; i++)
        {
            _server.Time.Advance(TimeSpan.FromMinutes(14));
            var next = await RefreshAsync(refresh);
            Assert.Equal(HttpStatusCode.OK, next.Status);
            refresh = next.Json.GetProperty("refresh_token").GetString()!;
        }

        _server.Time.Advance(TimeSpan.FromMinutes(4)); // 46 minutes after sign-in, 4 after the last refresh
        var late = await RefreshAsync(refresh);

        Assert.Equal("invalid_grant", late.Json.GetProperty("error").GetString());
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionTimedOut && e.Subject == tokens.Subject && e.Reason!.Contains("absolute", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnAccessTokenIssuedNearTheSessionsEnd_ExpiresWithTheSession()
    {
        var tokens = await SignInAsync("closing.user");
        _server.Time.Advance(TimeSpan.FromMinutes(14));
        var early = await RefreshAsync(tokens.Refresh);
        _server.Time.Advance(TimeSpan.FromMinutes(14));
        var middle = await RefreshAsync(early.Json.GetProperty("refresh_token").GetString()!);
        _server.Time.Advance(TimeSpan.FromMinutes(14)); // 42 minutes after sign-in: the session ends at 45
        var late = await RefreshAsync(middle.Json.GetProperty("refresh_token").GetString()!);

        // Far from the end: the configured five minutes. Three minutes before it: what is left of the three minutes (whole
        // seconds, never past the end), and expires_in says so.
        Assert.Equal(300, Lifetime(early.Json));
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.InRange(Lifetime(late.Json), 178, 180);
        Assert.InRange(late.Json.GetProperty("expires_in").GetInt64(), Lifetime(late.Json) - 1, Lifetime(late.Json));

        static long Lifetime(JsonElement answer)
        {
            var payload = Jws.Payload(answer.GetProperty("access_token").GetString()!);
            return payload.GetProperty("exp").GetInt64() - payload.GetProperty("iat").GetInt64();
        }
    }

    [Fact]
    public async Task SigningOut_AndRevokingARefreshToken_EndItsFamily()
    {
        var signedOut = await SignInAsync("logout.user", keepBrowser: true);
        await signedOut.Browser!.GetAsync("/");
        await signedOut.Browser.PostAsync("/signout");
        var afterLogout = await RefreshAsync(signedOut.Refresh);

        var revoked = await SignInAsync("revoke.user");
        var rotated = await RefreshAsync(revoked.Refresh);
        using var http = _server.CreateClient();
        using var message = Basic(new HttpRequestMessage(HttpMethod.Post, "/revoke") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = revoked.Refresh }) });
        var revocation = await http.SendAsync(message);
        var afterRevocation = await RefreshAsync(rotated.Json.GetProperty("refresh_token").GetString()!);

        Assert.Equal("invalid_grant", afterLogout.Json.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, revocation.StatusCode);
        Assert.Equal("invalid_grant", afterRevocation.Json.GetProperty("error").GetString());
        signedOut.Browser.Dispose();
    }

    [Fact]
    public async Task ARefreshMayNarrowTheScopes_NeverWidenThem()
    {
        var tokens = await SignInAsync("scoped.user", scope: "openid patient.read");

        var narrowed = await RefreshAsync(tokens.Refresh, scope: "patient.read");
        var widened = await RefreshAsync(narrowed.Json.GetProperty("refresh_token").GetString()!, scope: "patient.read patient.write");

        Assert.Equal("patient.read", narrowed.Json.GetProperty("scope").GetString());
        Assert.Equal("invalid_scope", widened.Json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task AClientNotRegisteredForRefresh_GetsNoRefreshToken()
    {
        var (_, totp) = await _server.AddUserAsync("plain.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(
            $"/authorize?response_type=code&client_id=no-refresh-app&redirect_uri={Uri.EscapeDataString("https://norefresh.example.org/cb")}&code_challenge={challenge}&code_challenge_method=S256",
            "plain.user", Password, () => _server.TotpCode(totp!));
        var code = FormBrowser.QueryOf(back.Headers.Location!)["code"];

        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = "https://norefresh.example.org/cb", ["code_verifier"] = verifier,
            }),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("no-refresh-app:" + _noRefreshSecret)));
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(json.RootElement.TryGetProperty("access_token", out _));
        Assert.False(json.RootElement.TryGetProperty("refresh_token", out _));
    }

    private async Task<(string Refresh, string Subject, FormBrowser? Browser)> SignInAsync(string username, string scope = "openid patient.read", bool keepBrowser = false)
    {
        var (user, totp) = await _server.AddUserAsync(username, Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(
            $"/authorize?response_type=code&client_id=chart-app&redirect_uri={Uri.EscapeDataString(RedirectUri)}&scope={Uri.EscapeDataString(scope)}&code_challenge={challenge}&code_challenge_method=S256",
            username, Password, () => _server.TotpCode(totp!));
        var code = FormBrowser.QueryOf(back.Headers.Location!)["code"];
        using var http = _server.CreateClient();
        using var message = Basic(new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier,
            }),
        });
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(json.RootElement.TryGetProperty("refresh_token", out var refresh), json.RootElement.ToString());
        if (!keepBrowser)
        {
            browser.Dispose();
        }

        return (refresh.GetString()!, user.Subject, keepBrowser ? browser : null);
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> RefreshAsync(string refreshToken, string? scope = null)
    {
        using var http = _server.CreateClient();
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        using var message = Basic(new HttpRequestMessage(HttpMethod.Post, "/token") { Content = new FormUrlEncodedContent(form) });
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.Clone());
    }

    private HttpRequestMessage Basic(HttpRequestMessage message)
    {
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chart-app:" + _secret)));
        return message;
    }
}
