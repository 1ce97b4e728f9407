using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Safeguard.Audit;
using Safeguard.Server.Revocation;
using Safeguard.Sessions;
using Safeguard.Tokens;

namespace Safeguard.Server.Tests.People;

/// <summary>The code flow with PKCE over the real server: sign-in pages, codes, tokens, sessions (no browser; the Chromium tests drive the same pages).</summary>
public sealed class CodeFlowTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "copper lantern orchard meadow";

    private RunningServer _server = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri))!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PasswordAndTotp_ThroughTheCodeFlow_GiveAnAccessTokenAndAnIdTokenForTheUser()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);

        var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge, scope: "openid patient.read", state: "s-123", nonce: "n-456"), "jsmith", Password, () => _server.TotpCode(totp!));

        Assert.Equal(HttpStatusCode.SeeOther, back.StatusCode);
        Assert.StartsWith(RedirectUri + "?", back.Headers.Location!.OriginalString, StringComparison.Ordinal);
        var query = FormBrowser.QueryOf(back.Headers.Location!);
        Assert.Equal("s-123", query["state"]);
        Assert.Equal(_server.Issuer, query["iss"]);

        var tokens = await RedeemAsync(query["code"], verifier);
        Assert.Equal(HttpStatusCode.OK, tokens.Status);
        var access = _server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(tokens.Json.GetProperty("access_token").GetString());
        Assert.True(access.IsValid, access.ErrorCode);
        Assert.Equal(user.Subject, access.Token!.Subject);
        Assert.Equal("chart-app", access.Token.ClientId);
        Assert.Equal(["https://api.example.org"], access.Token.Audiences);
        Assert.Equal(AuthenticationContext.Aal2, access.Token.AuthenticationContextClass);
        Assert.Equal(["pwd", "otp", "mfa"], access.Token.AuthenticationMethods);
        Assert.Equal(["clinician"], access.Token.Roles);
        Assert.NotNull(access.Token.SessionId);

        var id = new JsonWebToken(tokens.Json.GetProperty("id_token").GetString());
        Assert.Equal("JWT", id.Typ);
        Assert.Equal(["chart-app"], id.Audiences);
        Assert.Equal(_server.Issuer, id.Issuer);
        Assert.Equal(user.Subject, id.Subject);
        Assert.Equal("n-456", id.GetClaim("nonce").Value);
        Assert.Equal(access.Token.SessionId, id.GetClaim("sid").Value);
        var accessHash = System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(tokens.Json.GetProperty("access_token").GetString()!));
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(accessHash.AsSpan(0, 16)), id.GetClaim("at_hash").Value);
        // The ID token can never pass for an access token.
        Assert.False(_server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(id.EncodedToken).IsValid);

        var events = await _server.AuditEventsAsync();
        Assert.Contains(events, e => e.Type == AuditEventType.LoginSucceeded && e.Subject == user.Subject);
        Assert.Contains(events, e => e.Type == AuditEventType.MfaSucceeded && e.Subject == user.Subject);
        Assert.Contains(events, e => e.Type == AuditEventType.SessionStarted && e.SessionId == access.Token.SessionId);
        Assert.Contains(events, e => e.Type == AuditEventType.TokenIssued && e.ResourceType == "authorization_code" && e.Subject == user.Subject);
        Assert.Contains(events, e => e.Type == AuditEventType.TokenIssued && e.TokenId == access.Token.TokenId && e.Subject == user.Subject);
    }

    [Fact]
    public async Task ACodeWorksOnce_ItsReplayRevokesTheTokenItGave()
    {
        var (_, totp) = await _server.AddUserAsync("replay.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge), "replay.user", Password, () => _server.TotpCode(totp!));
        var code = FormBrowser.QueryOf(back.Headers.Location!)["code"];

        var first = await RedeemAsync(code, verifier);
        var second = await RedeemAsync(code, verifier);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Equal("invalid_grant", second.Json.GetProperty("error").GetString());
        var jti = new JsonWebToken(first.Json.GetProperty("access_token").GetString()).Id;
        Assert.True(_server.Services.GetRequiredService<RevocationService>().List.IsRevoked(jti));
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.TokenRevoked && e.Reason!.StartsWith(SafeguardErrorCodes.AuthorizationCodeReplayed, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AWrongVerifier_OrAnotherRedirectUri_OrAnotherClient_GetsNoToken()
    {
        var (_, totp) = await _server.AddUserAsync("pkce.user", Password);
        var other = await _server.AddCodeFlowClientAsync("other-app", "https://other.example.org/cb");
        async Task<string> NewCodeAsync(string challenge)
        {
            using var browser = new FormBrowser(_server);
            _server.Time.Advance(TimeSpan.FromSeconds(30)); // a fresh TOTP step each time
            var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge), "pkce.user", Password, () => _server.TotpCode(totp!));
            return FormBrowser.QueryOf(back.Headers.Location!)["code"];
        }

        var (verifier, challenge) = FormBrowser.Pkce();
        var wrongVerifier = await RedeemAsync(await NewCodeAsync(challenge), FormBrowser.Pkce().Verifier);
        var wrongRedirect = await RedeemAsync(await NewCodeAsync(challenge), verifier, redirectUri: RedirectUri + "x");
        var wrongClient = await RedeemAsync(await NewCodeAsync(challenge), verifier, clientId: "other-app", secret: other!);
        var noVerifier = await RedeemAsync(await NewCodeAsync(challenge), null);

        Assert.All(new[] { wrongVerifier, wrongRedirect, wrongClient, noVerifier }, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("invalid_grant", r.Json.GetProperty("error").GetString());
        });
        var refusals = (await _server.AuditEventsAsync()).Where(e => e.Type == AuditEventType.TokenRefused).Select(e => e.Reason!).ToList();
        Assert.Contains(refusals, r => r.StartsWith(SafeguardErrorCodes.PkceVerifierInvalid, StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.StartsWith(SafeguardErrorCodes.AuthorizationCodeInvalid, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ACodeExpiresAfterSixtySeconds()
    {
        var (_, totp) = await _server.AddUserAsync("slow.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge), "slow.user", Password, () => _server.TotpCode(totp!));

        _server.Time.Advance(TimeSpan.FromSeconds(61));
        var late = await RedeemAsync(FormBrowser.QueryOf(back.Headers.Location!)["code"], verifier);

        Assert.Equal("invalid_grant", late.Json.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("response_type=token", "unsupported_response_type")]
    [InlineData("code_challenge_method=plain", "invalid_request")]
    [InlineData("no_challenge", "invalid_request")]
    [InlineData("scope=admin.everything", "invalid_scope")]
    [InlineData("resource=https://elsewhere.example", "invalid_target")]
    [InlineData("request_uri=urn:x", "invalid_request_uri")]
    [InlineData("response_mode=form_post", "invalid_request")]
    [InlineData("prompt=none", "login_required")]
    public async Task ABadRequestFromAKnownClient_GoesBackToItWithTheErrorStateAndIss(string change, string error)
    {
        var (_, challenge) = FormBrowser.Pkce();
        var url = AuthorizeUrl(challenge, state: "keep-me");
        url = change switch
        {
            "response_type=token" => url.Replace("response_type=code", "response_type=token", StringComparison.Ordinal),
            "code_challenge_method=plain" => url.Replace("code_challenge_method=S256", "code_challenge_method=plain", StringComparison.Ordinal),
            "no_challenge" => url[..url.IndexOf("&code_challenge=", StringComparison.Ordinal)] + "&state=keep-me",
            "scope=admin.everything" => url.Replace("scope=patient.read", "scope=admin.everything", StringComparison.Ordinal),
            _ => url + "&" + change,
        };
        using var browser = new FormBrowser(_server);

        var response = await browser.GetAsync(url);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var query = FormBrowser.QueryOf(response.Headers.Location!);
        Assert.StartsWith(RedirectUri + "?", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Equal(error, query["error"]);
        Assert.Equal("keep-me", query["state"]);
        Assert.Equal(_server.Issuer, query["iss"]);
        Assert.False(query.ContainsKey("code"));
    }

    [Theory]
    [InlineData("client_id=unknown-app")]
    [InlineData("redirect_uri=https://attacker.example/callback")]
    [InlineData("redirect_uri=https://app.example.org/callback/")]
    [InlineData("redirect_uri=https://app.example.org/callback?x=1")]
    public async Task AnUnknownClientOrRedirectUri_GetsAnErrorPage_NeverARedirect(string change)
    {
        var (_, challenge) = FormBrowser.Pkce();
        var (name, value) = (change[..change.IndexOf('=', StringComparison.Ordinal)], change[(change.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        var url = AuthorizeUrl(challenge);
        var start = url.IndexOf(name + "=", StringComparison.Ordinal);
        var end = url.IndexOf('&', start);
        url = url[..start] + name + "=" + Uri.EscapeDataString(value) + (end < 0 ? string.Empty : url[end..]);
        using var browser = new FormBrowser(_server);

        var response = await browser.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("Cannot continue", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongPasswordAndUnknownUser_GetTheSameAnswer_AndEachIsAuditedWithItsReason()
    {
        await _server.AddUserAsync("known.user", Password);
        var (_, challenge) = FormBrowser.Pkce();
        using var first = new FormBrowser(_server);
        using var second = new FormBrowser(_server);

        var wrong = await first.SignInThroughAsync(AuthorizeUrl(challenge), "known.user", "not the right password at all", totpCode: null);
        var unknown = await second.SignInThroughAsync(AuthorizeUrl(challenge), "nobody.here", "not the right password at all", totpCode: null);

        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        Assert.Equal(Message(first.LastPage!), Message(second.LastPage!));
        Assert.Contains("not right", Message(first.LastPage!), StringComparison.Ordinal);
        var failures = (await _server.AuditEventsAsync()).Where(e => e.Type == AuditEventType.LoginFailed).Select(e => e.Reason!).ToList();
        Assert.Contains(failures, r => r.StartsWith(SafeguardErrorCodes.SignInWrongPassword, StringComparison.Ordinal));
        Assert.Contains(failures, r => r.StartsWith(SafeguardErrorCodes.SignInUnknownUser, StringComparison.Ordinal));
        Assert.DoesNotContain(await _server.AuditEventsAsync(), e => JsonSerializer.Serialize(e).Contains("not the right password", StringComparison.Ordinal));

        static string Message(string page) => System.Text.RegularExpressions.Regex.Match(page, "role=\"alert\"[^>]*>([^<]*)<").Groups[1].Value;
    }

    [Fact]
    public async Task ATotpCodeIsRefusedTheSecondTime()
    {
        var (_, totp) = await _server.AddUserAsync("totp.once", Password);
        var (_, challenge) = FormBrowser.Pkce();
        var code = _server.TotpCode(totp!);
        using var first = new FormBrowser(_server);
        using var second = new FormBrowser(_server);

        var accepted = await first.SignInThroughAsync(AuthorizeUrl(challenge), "totp.once", Password, () => code);
        var replayed = await second.SignInThroughAsync(AuthorizeUrl(challenge), "totp.once", Password, () => code);

        Assert.Equal(HttpStatusCode.SeeOther, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Contains("That code did not work", second.LastPage, StringComparison.Ordinal);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.MfaFailed && e.Reason!.StartsWith(SafeguardErrorCodes.MfaReplayed, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ALiveSessionGetsACodeWithoutSigningInAgain_UntilTheIdleTimeoutEndsIt()
    {
        var (_, totp) = await _server.AddUserAsync("idle.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        await browser.SignInThroughAsync(AuthorizeUrl(challenge), "idle.user", Password, () => _server.TotpCode(totp!));

        _server.Time.Advance(TimeSpan.FromMinutes(14));
        var again = await browser.GetAsync(AuthorizeUrl(challenge));
        Assert.StartsWith(RedirectUri + "?code=", again.Headers.Location!.OriginalString, StringComparison.Ordinal);

        var (_, forced) = (0, await browser.GetAsync(AuthorizeUrl(challenge) + "&prompt=login"));
        Assert.StartsWith("/signin?request=", forced.Headers.Location!.OriginalString, StringComparison.Ordinal);

        _server.Time.Advance(TimeSpan.FromMinutes(15));
        var afterIdle = await browser.GetAsync(AuthorizeUrl(challenge));
        Assert.StartsWith("/signin?request=", afterIdle.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionTimedOut && e.Reason!.Contains("idle", StringComparison.Ordinal));

        // A code issued before the session ended is worth nothing after.
        var code = FormBrowser.QueryOf(again.Headers.Location!)["code"];
        var late = await RedeemAsync(code, verifier);
        Assert.Equal("invalid_grant", late.Json.GetProperty("error").GetString());
    }

    [Fact]
    public async Task SigningOut_EndsTheSession_AndTheNextAuthorizationAsksToSignIn()
    {
        var (_, totp) = await _server.AddUserAsync("leaving.user", Password);
        var (_, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        await browser.SignInThroughAsync(AuthorizeUrl(challenge), "leaving.user", Password, () => _server.TotpCode(totp!));
        await browser.GetAsync("/");
        Assert.Contains("leaving.user", browser.LastPage, StringComparison.Ordinal);

        var signedOut = await browser.PostAsync("/signout");
        var next = await browser.GetAsync(AuthorizeUrl(challenge));

        Assert.Equal(HttpStatusCode.OK, signedOut.StatusCode);
        Assert.StartsWith("/signin?request=", next.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionEnded);
    }

    [Fact]
    public async Task RpInitiatedLogout_WithTheSessionsIdTokenHint_EndsItAtOnce_AndReturnsToTheClientWithState()
    {
        var (_, totp) = await _server.AddUserAsync("rp.logout", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge, scope: "openid patient.read"), "rp.logout", Password, () => _server.TotpCode(totp!));
        var tokens = await RedeemAsync(FormBrowser.QueryOf(back.Headers.Location!)["code"], verifier);
        var idToken = tokens.Json.GetProperty("id_token").GetString()!;

        var logout = await browser.GetAsync($"/logout?id_token_hint={idToken}&post_logout_redirect_uri={Uri.EscapeDataString(RedirectUri)}&state=bye");
        var next = await browser.GetAsync(AuthorizeUrl(challenge));

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Equal(RedirectUri + "?state=bye", logout.Headers.Location!.OriginalString);
        Assert.StartsWith("/signin?request=", next.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionEnded && e.Reason!.Contains("RP-initiated", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RpInitiatedLogout_WithoutAHint_AsksThePersonToConfirm_AndRefusesAnUnregisteredReturnAddress()
    {
        var (_, totp) = await _server.AddUserAsync("confirm.logout", Password);
        var (_, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        await browser.SignInThroughAsync(AuthorizeUrl(challenge), "confirm.logout", Password, () => _server.TotpCode(totp!));

        var foreign = await browser.GetAsync($"/logout?client_id=chart-app&post_logout_redirect_uri={Uri.EscapeDataString("https://attacker.example/")}");
        Assert.Null(foreign.Headers.Location);
        Assert.Contains("not registered", browser.LastPage, StringComparison.Ordinal);
        var forged = await browser.GetAsync("/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.");
        Assert.Contains("not valid", browser.LastPage, StringComparison.Ordinal);

        var ask = await browser.GetAsync("/logout?client_id=chart-app");
        Assert.Equal(HttpStatusCode.OK, ask.StatusCode);
        Assert.Contains("Sign out?", browser.LastPage, StringComparison.Ordinal);
        var stillSignedIn = await browser.GetAsync(AuthorizeUrl(challenge));
        Assert.StartsWith(RedirectUri, stillSignedIn.Headers.Location!.OriginalString, StringComparison.Ordinal);

        await browser.GetAsync("/logout?client_id=chart-app");
        var confirmed = await browser.PostAsync("/logout", ("client_id", "chart-app"));
        var confirmedPage = browser.LastPage;
        var next = await browser.GetAsync(AuthorizeUrl(challenge));

        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Contains("Signed out", confirmedPage, StringComparison.Ordinal);
        Assert.StartsWith("/signin?request=", next.Headers.Location!.OriginalString, StringComparison.Ordinal);
        _ = forged;
    }

    [Fact]
    public async Task UserInfo_AnswersForALiveSessionsToken_WithOpenId_AndNothingAfterSignOut()
    {
        var profileSecret = (await _server.AddCodeFlowClientAsync("profile-app", "https://profile.example.org/cb", scopes: ["profile", "patient.read"]))!;
        var (user, totp) = await _server.AddUserAsync("info.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(AuthorizeUrl(challenge, scope: "openid profile", clientId: "profile-app", redirectUri: "https://profile.example.org/cb"), "info.user", Password, () => _server.TotpCode(totp!));
        var tokens = await RedeemAsync(FormBrowser.QueryOf(back.Headers.Location!)["code"], verifier, clientId: "profile-app", secret: profileSecret, redirectUri: "https://profile.example.org/cb");
        var accessToken = tokens.Json.GetProperty("access_token").GetString()!;
        var withoutOpenId = await RedeemAsync(FormBrowser.QueryOf((await browser.GetAsync(AuthorizeUrl(challenge, scope: "patient.read"))).Headers.Location!)["code"], verifier);

        var info = await UserInfoAsync(accessToken);
        var noToken = await UserInfoAsync(null);
        var notOpenId = await UserInfoAsync(withoutOpenId.Json.GetProperty("access_token").GetString());
        await browser.GetAsync("/");
        await browser.PostAsync("/signout");
        var afterSignOut = await UserInfoAsync(accessToken);

        Assert.Equal(HttpStatusCode.OK, info.Status);
        using (var json = JsonDocument.Parse(info.Body))
        {
            Assert.Equal(user.Subject, json.RootElement.GetProperty("sub").GetString());
            Assert.Equal("info.user", json.RootElement.GetProperty("preferred_username").GetString());
            Assert.False(json.RootElement.TryGetProperty("email", out _));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, noToken.Status);
        Assert.StartsWith("Bearer", noToken.Challenge, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, notOpenId.Status);
        Assert.Contains("insufficient_scope", notOpenId.Challenge, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, afterSignOut.Status);
        Assert.Contains("invalid_token", afterSignOut.Challenge, StringComparison.Ordinal);

        // Every request is on the record, with the precise reason the answer does not give.
        var reads = (await _server.AuditEventsAsync()).Where(e => e.Type == AuditEventType.UserInfoRead).ToList();
        Assert.Contains(reads, e => e.Outcome == AuditOutcome.Success && e.Subject == user.Subject && e.ClientId == "profile-app" && e.Reason == "claims released: sub preferred_username");
        Assert.Contains(reads, e => e.Outcome == AuditOutcome.Denied && e.Reason!.Contains("no openid scope", StringComparison.Ordinal));
        Assert.Contains(reads, e => e.Outcome == AuditOutcome.Denied && e.Subject == user.Subject && e.Reason!.Contains("session has ended", StringComparison.Ordinal));
        Assert.Contains(reads, e => e.Outcome == AuditOutcome.Denied && e.Reason!.StartsWith("no access token", StringComparison.Ordinal));
    }

    private async Task<(HttpStatusCode Status, string Body, string Challenge)> UserInfoAsync(string? accessToken)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Get, "/userinfo");
        if (accessToken is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        var response = await http.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task APostWithoutTheAntiforgeryToken_IsRefused()
    {
        using var browser = new FormBrowser(_server);

        var response = await browser.PostAsync("/signin", ("username", "x"), ("password", "y"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task PagesAndCookies_CarryTheSecurityHeadersAndAttributes()
    {
        var (_, totp) = await _server.AddUserAsync("headers.user", Password);
        var (_, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var authorize = await browser.GetAsync(AuthorizeUrl(challenge));
        var page = await browser.GetAsync(authorize.Headers.Location!.OriginalString);

        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("form-action 'self' https://app.example.org", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", browser.LastPage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("autocomplete=\"username\"", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("autocomplete=\"current-password\"", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("no-store", page.Headers.CacheControl!.ToString(), StringComparison.Ordinal);

        var requestId = authorize.Headers.Location!.OriginalString.Split('=')[1];
        var password = await browser.PostAsync("/signin", ("request", Uri.UnescapeDataString(requestId)), ("username", "headers.user"), ("password", Password));
        await browser.GetAsync("/signin/mfa");
        Assert.Contains("autocomplete=\"one-time-code\"", browser.LastPage, StringComparison.Ordinal);
        var done = await browser.PostAsync("/signin/mfa", ("code", _server.TotpCode(totp!)));
        var cookies = password.Headers.GetValues("Set-Cookie").Concat(done.Headers.GetValues("Set-Cookie")).ToList();
        Assert.Contains(cookies, c => c.StartsWith("__Host-safeguard-session=", StringComparison.Ordinal));
        Assert.All(cookies.Where(c => c.StartsWith("__Host-", StringComparison.Ordinal) && !c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase)), c =>
        {
            Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("httponly", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=lax", c, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("path=/", c, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("domain=", c, StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task APublicClient_CompletesTheFlowWithPkceAlone_ButCannotUseClientCredentials()
    {
        await _server.AddCodeFlowClientAsync("mobile-app", "http://127.0.0.1:7890/cb", secret: false);
        var (_, totp) = await _server.AddUserAsync("mobile.user", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var url = AuthorizeUrl(challenge, clientId: "mobile-app", redirectUri: "http://127.0.0.1:7890/cb");
        var back = await browser.SignInThroughAsync(url, "mobile.user", Password, () => _server.TotpCode(totp!));

        var tokens = await RedeemAsync(FormBrowser.QueryOf(back.Headers.Location!)["code"], verifier, clientId: "mobile-app", secret: null, redirectUri: "http://127.0.0.1:7890/cb");
        using var http = _server.CreateClient();
        var credentials = await http.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "mobile-app" }));

        Assert.Equal(HttpStatusCode.OK, tokens.Status);
        Assert.Equal(HttpStatusCode.BadRequest, credentials.StatusCode);
        Assert.Contains("unauthorized_client", await credentials.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_AdvertisesExactlyTheCodeFlowThatIsBuilt()
    {
        using var http = _server.CreateClient();
        using var document = JsonDocument.Parse(await http.GetStringAsync("/.well-known/openid-configuration"));
        var root = document.RootElement;

        Assert.Equal(_server.Issuer + "/authorize", root.GetProperty("authorization_endpoint").GetString());
        Assert.Equal(_server.Issuer + "/logout", root.GetProperty("end_session_endpoint").GetString());
        Assert.Equal(_server.Issuer + "/userinfo", root.GetProperty("userinfo_endpoint").GetString());
        Assert.Equal(["code"], Strings(root, "response_types_supported"));
        Assert.Equal(["S256"], Strings(root, "code_challenge_methods_supported"));
        Assert.True(root.GetProperty("authorization_response_iss_parameter_supported").GetBoolean());
        Assert.Contains("authorization_code", Strings(root, "grant_types_supported"));
        Assert.DoesNotContain("password", Strings(root, "grant_types_supported"));
        Assert.DoesNotContain("implicit", Strings(root, "grant_types_supported"));
        Assert.DoesNotContain("none", Strings(root, "introspection_endpoint_auth_methods_supported"));

        static string[] Strings(JsonElement root, string name) => [.. root.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];
    }

    private string AuthorizeUrl(string challenge, string scope = "patient.read", string? state = "st", string? nonce = null, string clientId = "chart-app", string redirectUri = RedirectUri)
    {
        var url = new StringBuilder("/authorize?response_type=code");
        url.Append("&client_id=").Append(Uri.EscapeDataString(clientId));
        url.Append("&redirect_uri=").Append(Uri.EscapeDataString(redirectUri));
        url.Append("&scope=").Append(Uri.EscapeDataString(scope));
        url.Append("&code_challenge=").Append(challenge).Append("&code_challenge_method=S256");
        if (state is not null)
        {
            url.Append("&state=").Append(Uri.EscapeDataString(state));
        }

        if (nonce is not null)
        {
            url.Append("&nonce=").Append(Uri.EscapeDataString(nonce));
        }

        return url.ToString();
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> RedeemAsync(string code, string? verifier, string clientId = "chart-app", string? secret = "", string redirectUri = RedirectUri)
    {
        using var http = _server.CreateClient();
        var form = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirectUri };
        if (verifier is not null)
        {
            form["code_verifier"] = verifier;
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = new FormUrlEncodedContent(form) };
        secret = secret == string.Empty ? _secret : secret;
        if (secret is null)
        {
            form["client_id"] = clientId;
            message.Content = new FormUrlEncodedContent(form);
        }
        else
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{clientId}:{secret}")));
        }

        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.Clone());
    }
}
