using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Safeguard.Audit;
using Safeguard.Tokens;
using Safeguard.Users;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// Passkeys in a real browser: Chromium with a virtual authenticator (CDP <c>WebAuthn.addVirtualAuthenticator</c>:
/// CTAP2, resident keys, user verification) against the real server over TLS, reached by a host name (a relying-party
/// id cannot be an IP address): registration from the account page, sign-in with the passkey alone (autofill) through
/// the code flow to tokens, the passkey as the second step after a password (a button), and a replayed assertion refused.
/// </summary>
public sealed class PasskeyBrowserTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "amber meadow lantern copper";

    private RunningServer _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _secret = null!;
    private string _origin = null!;

    public async Task InitializeAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("SAFEGUARD_TEST_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"Chromium is not at {chromium}: run the tests with ./test.sh, which installs Debian's chromium.");
        }

        (_server, var port) = await RunningServer.StartOnFreePortAsync(port => [$"--Safeguard:Listen=https://127.0.0.1:{port}", $"--Safeguard:Issuer=https://localhost:{port}"]);
        _origin = $"https://localhost:{port}";
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, scopes: ["patient.read"]))!;
        var spki = Convert.ToBase64String(SHA256.HashData(_server.ServerCertificate.PublicKey.ExportSubjectPublicKeyInfo()));
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--ignore-certificate-errors-spki-list=" + spki, "--host-resolver-rules=MAP localhost 127.0.0.1"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task APasskey_AddedOnTheAccountPage_SignsInAlone_ThroughTheCodeFlow_AndAsTheSecondStep()
    {
        var (user, totp) = await _server.AddUserAsync("dr.osei", Password);
        await using var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var cdp = await context.NewCDPSessionAsync(page);
        await cdp.SendAsync("WebAuthn.enable");
        var added = await cdp.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2",
                ["transport"] = "internal",
                ["hasResidentKey"] = true,
                ["hasUserVerification"] = true,
                ["isUserVerified"] = true,
                ["automaticPresenceSimulation"] = true,
            },
        });
        var authenticatorId = added!.Value.GetProperty("authenticatorId").GetString()!;

        // Sign in with the password and the app, then add a passkey on the account page.
        await page.GotoAsync(_origin + "/signin");
        await page.GetByLabel("Username").FillAsync("dr.osei");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Signed in" }).WaitForAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Add a passkey" }).ClickAsync();
        await page.Locator("#factors").GetByText("Passkey added").WaitForAsync();

        var credentials = await cdp.SendAsync("WebAuthn.getCredentials", new Dictionary<string, object> { ["authenticatorId"] = authenticatorId });
        var credential = Assert.Single(credentials!.Value.GetProperty("credentials").EnumerateArray());
        Assert.True(credential.GetProperty("isResidentCredential").GetBoolean());
        Assert.Equal("localhost", credential.GetProperty("rpId").GetString());
        Assert.Equal(user.Subject, Encoding.UTF8.GetString(Convert.FromBase64String(credential.GetProperty("userHandle").GetString()!))); // the opaque subject, never a name
        var stored = Assert.Single(await _server.Services.GetRequiredService<IAuthenticatorStore>().GetForUserAsync(user.Subject, CancellationToken.None), a => a.Kind == AuthenticatorKind.Passkey);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.MfaEnrolled && e.ResourceId == stored.Id && e.Outcome == AuditOutcome.Success);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Signed out" }).WaitForAsync();

        // The passkey alone, no username typed, through the code flow to tokens.
        var (verifier, challenge) = FormBrowser.Pkce();
        var callback = await CaptureCallbackAsync(page);
        string? passkeyPost = null;
        page.Request += (_, request) =>
        {
            if (request.Method == "POST" && request.Url.Contains("handler=passkey", StringComparison.Ordinal))
            {
                passkeyPost = request.PostData;
            }
        };
        // The sign-in page offers the passkey in the username field's autofill (conditional mediation); the virtual
        // authenticator picks it at once, so no button is pressed here (the second step below uses the button).
        await page.GotoAsync(_origin + AuthorizeUrl(challenge));
        var back = FormBrowser.QueryOf(new Uri(await callback.Task.WaitAsync(TimeSpan.FromSeconds(30))));
        var tokens = await RedeemAsync(back["code"], verifier);
        var access = _server.Services.GetRequiredService<AccessTokenValidator>().ValidateIssuedToken(tokens.GetProperty("access_token").GetString());
        Assert.True(access.IsValid, access.ErrorCode);
        Assert.Equal(user.Subject, access.Token!.Subject);
        Assert.Equal(Safeguard.Sessions.AuthenticationContext.Aal2, access.Token.AuthenticationContextClass);
        Assert.Equal(["hwk", "mfa"], access.Token.AuthenticationMethods);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.LoginSucceeded && e.Subject == user.Subject && e.Reason == "passkey verified (with user verification)");

        // The same assertion posted again (same page state, same anti-forgery token) signs no one in: its challenge is spent.
        Assert.NotNull(passkeyPost);
        var cookies = string.Join("; ", (await context.CookiesAsync()).Select(c => c.Name + "=" + c.Value));
        using (var http = _server.CreateClient())
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "/signin?handler=passkey") { Content = new StringContent(passkeyPost, Encoding.ASCII, "application/x-www-form-urlencoded") };
            message.Headers.Add("Cookie", cookies);
            var replay = await http.SendAsync(message);
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Contains("That passkey did not work here", await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.LoginFailed && e.Reason!.Contains("challenge was already used", StringComparison.Ordinal));

        // As the second step after a password, in a fresh tab and browser session holding the same passkey (its counter as it is now).
        var current = await cdp.SendAsync("WebAuthn.getCredentials", new Dictionary<string, object> { ["authenticatorId"] = authenticatorId });
        var now = Assert.Single(current!.Value.GetProperty("credentials").EnumerateArray());
        page = await context.NewPageAsync();
        await context.ClearCookiesAsync();
        var cdp2 = await context.NewCDPSessionAsync(page);
        await cdp2.SendAsync("WebAuthn.enable");
        var second = await cdp2.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                // No automatic presence yet: the sign-in page's autofill offer must not complete before the password is typed.
                ["protocol"] = "ctap2", ["transport"] = "internal", ["hasResidentKey"] = true, ["hasUserVerification"] = true, ["isUserVerified"] = true, ["automaticPresenceSimulation"] = false,
            },
        });
        var secondId = second!.Value.GetProperty("authenticatorId").GetString()!;
        await cdp2.SendAsync("WebAuthn.addCredential", new Dictionary<string, object>
        {
            ["authenticatorId"] = secondId,
            ["credential"] = JsonSerializer.Deserialize<Dictionary<string, object>>(now.GetRawText())!,
        });
        await page.GotoAsync(_origin + "/signin");
        await page.GetByLabel("Username").FillAsync("dr.osei");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.WaitForURLAsync("**/signin/mfa", new() { WaitUntil = WaitUntilState.DOMContentLoaded });

        await cdp2.SendAsync("WebAuthn.setAutomaticPresenceSimulation", new Dictionary<string, object> { ["authenticatorId"] = secondId, ["enabled"] = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Use a passkey" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Signed in" }).WaitForAsync();
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.MfaSucceeded && e.Subject == user.Subject && e.Reason == "passkey verified");
    }

    [Fact]
    public async Task AnEnrolmentLink_CanSetUpAPasskeyInsteadOfAnApp()
    {
        var now = _server.Time.GetUtcNow();
        var user = new User { Subject = UserSubjects.New(), Username = "nurse.diaz", Roles = ["nurse"], CreatedAt = now, UpdatedAt = now };
        await _server.Services.GetRequiredService<IUserStore>().AddAsync(user, CancellationToken.None);
        var (_, code) = await _server.Services.GetRequiredService<EnrolmentLinks>().IssueAsync(user, CancellationToken.None);
        await using var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 375, Height = 740 } });
        var page = await context.NewPageAsync();
        var cdp = await context.NewCDPSessionAsync(page);
        await cdp.SendAsync("WebAuthn.enable");
        await cdp.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2", ["transport"] = "internal", ["hasResidentKey"] = true, ["hasUserVerification"] = true, ["isUserVerified"] = true, ["automaticPresenceSimulation"] = true,
            },
        });

        await page.GotoAsync(_origin + "/enrol?code=" + code);
        Assert.EndsWith("/enrol", page.Url, StringComparison.Ordinal);
        await page.GetByLabel("New password").FillAsync(Password);
        await page.GetByLabel("Type it again").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByRole(AriaRole.Img).WaitForAsync(); // the QR code of the app step
        await page.GetByRole(AriaRole.Button, new() { Name = "Set up a passkey instead" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Your account is ready" }).WaitForAsync();
        Assert.Equal(RecoveryCodes.Count, await page.Locator("#recovery-codes li").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the enrolment page scrolls sideways on a phone-width screen");

        await page.GetByRole(AriaRole.Link, new() { Name = "Continue to your account" }).ClickAsync();
        Assert.Contains("nurse.diaz", await page.Locator("#signed-in-user").InnerTextAsync(), StringComparison.Ordinal);
        await page.Locator("#factors").GetByText("Passkey added").WaitForAsync();
        var factors = await _server.Services.GetRequiredService<IAuthenticatorStore>().GetForUserAsync(user.Subject, CancellationToken.None);
        Assert.Single(factors, a => a.Kind == AuthenticatorKind.Passkey);
        Assert.DoesNotContain(factors, a => a.Kind == AuthenticatorKind.Totp);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionStarted && e.Subject == user.Subject && e.Amr.SequenceEqual(["pwd", "hwk", "mfa"]));
    }

    private static async Task<TaskCompletionSource<string>> CaptureCallbackAsync(IPage page)
    {
        var callback = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync("https://app.example.org/**", async route =>
        {
            callback.TrySetResult(route.Request.Url);
            await route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "text/plain", Body = "signed in" });
        });
        return callback;
    }

    private static string AuthorizeUrl(string challenge) =>
        "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
        + "&scope=openid%20patient.read&state=passkey&nonce=n1&code_challenge=" + challenge + "&code_challenge_method=S256";

    private async Task<JsonElement> RedeemAsync(string code, string verifier)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code",
                ["code"] = code,
                ["redirect_uri"] = RedirectUri,
                ["code_verifier"] = verifier,
            }),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chart-app:" + _secret)));
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.Clone();
    }
}
