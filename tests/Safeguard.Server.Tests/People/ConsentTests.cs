using System.Net;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.People;

/// <summary>The consent page (<c>prompt=consent</c>) over the real server.</summary>
public sealed class ConsentTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "copper lantern orchard meadow";

    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.AddCodeFlowClientAsync("chart-app", RedirectUri);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AClientThatAsksForConsent_GetsACodeOnlyOnceTheUserAllows_AndAccessDeniedWhenTheyRefuse()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        using var browser = new FormBrowser(_server);

        var signedIn = await browser.SignInThroughAsync(AuthorizeUrl("first"), "jsmith", Password, () => _server.TotpCode(totp!));
        Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);
        var consentUrl = signedIn.Headers.Location!.OriginalString;
        Assert.StartsWith("/consent?request=", consentUrl, StringComparison.Ordinal);

        var page = await browser.GetAsync(consentUrl);
        Assert.Contains("id=\"consent-client\">chart-app<", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("id=\"consent-user\">jsmith<", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("Know who you are", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("patient.read", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("form-action 'self' https://app.example.org", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var requestId = Uri.UnescapeDataString(consentUrl["/consent?request=".Length..]);

        var allowed = await browser.PostAsync("/consent", ("request", requestId), ("decision", "allow"));
        Assert.Equal(HttpStatusCode.SeeOther, allowed.StatusCode);
        var back = FormBrowser.QueryOf(allowed.Headers.Location!);
        Assert.True(back.ContainsKey("code"));
        Assert.Equal("first", back["state"]);

        // With a live session, a new request that asks for consent goes straight to the page; refusing answers access_denied.
        var again = await browser.GetAsync(AuthorizeUrl("second"));
        Assert.StartsWith("/consent?request=", again.Headers.Location!.OriginalString, StringComparison.Ordinal);
        await browser.GetAsync(again.Headers.Location!.OriginalString);
        var denied = await browser.PostAsync("/consent", ("request", Uri.UnescapeDataString(again.Headers.Location!.OriginalString["/consent?request=".Length..])), ("decision", "deny"));
        var refusal = FormBrowser.QueryOf(denied.Headers.Location!);
        Assert.Equal("access_denied", refusal["error"]);
        Assert.Equal("second", refusal["state"]);
        Assert.False(refusal.ContainsKey("code"));

        var events = await _server.AuditEventsAsync();
        Assert.Contains(events, e => e.Type == AuditEventType.ConsentGranted && e.Subject == user.Subject && e.ClientId == "chart-app");
        Assert.Contains(events, e => e.Type == AuditEventType.ConsentDenied && e.Subject == user.Subject);
    }

    [Fact]
    public async Task TheConsentPage_NeedsTheUsersSession()
    {
        var (_, totp) = await _server.AddUserAsync("jsmith", Password);
        using var browser = new FormBrowser(_server);
        var signedIn = await browser.SignInThroughAsync(AuthorizeUrl("s"), "jsmith", Password, () => _server.TotpCode(totp!));
        var consentUrl = signedIn.Headers.Location!.OriginalString;

        using var stranger = new FormBrowser(_server);
        var page = await stranger.GetAsync(consentUrl);
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/signin", page.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheConsentPage_CannotSkipTheSignInARequestDemands()
    {
        var (_, totp) = await _server.AddUserAsync("jsmith", Password);
        using var browser = new FormBrowser(_server);
        await browser.SignInThroughAsync(AuthorizeUrl("first"), "jsmith", Password, () => _server.TotpCode(totp!));

        // prompt=login with a live session: /authorize asks for a sign-in; going straight to the consent page does not get round it.
        var again = await browser.GetAsync(AuthorizeUrl("second").Replace("prompt=consent", "prompt=login%20consent", StringComparison.Ordinal));
        var signIn = again.Headers.Location!.OriginalString;
        Assert.StartsWith("/signin?request=", signIn, StringComparison.Ordinal);
        var requestId = Uri.UnescapeDataString(signIn["/signin?request=".Length..]);
        var direct = await browser.GetAsync("/consent?request=" + Uri.EscapeDataString(requestId));
        Assert.Equal(HttpStatusCode.Redirect, direct.StatusCode);
        Assert.StartsWith("/signin?request=", direct.Headers.Location!.OriginalString, StringComparison.Ordinal);
        await browser.GetAsync(signIn);
        var posted = await browser.PostAsync("/consent", ("request", requestId), ("decision", "allow"));
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        Assert.StartsWith("/signin", posted.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    private static string AuthorizeUrl(string state) =>
        "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
        + "&scope=openid%20patient.read&prompt=consent&state=" + state + "&code_challenge=" + FormBrowser.Pkce().Challenge + "&code_challenge_method=S256";
}
