using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// The sign-in pages in a real browser: Debian's Chromium (./test.sh installs it) driven by Playwright, against the
/// real server over TLS. The browser trusts exactly the server's development certificate (its SPKI pinned), so the
/// __Host- cookies, the CSP (form-action across the redirect to the client) and the anti-forgery tokens are
/// enforced as they are for a person. The client's redirect URI is answered inside the browser (a route), and the
/// test redeems the code as the client would.
/// </summary>
public sealed class BrowserSignInTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "violet harbour copper lantern";

    private RunningServer _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        var chromium = Environment.GetEnvironmentVariable("SAFEGUARD_TEST_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"Chromium is not at {chromium}: run the tests with ./test.sh, which installs Debian's chromium.");
        }

        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, scopes: ["patient.read"]))!;
        var spki = Convert.ToBase64String(SHA256.HashData(_server.ServerCertificate.PublicKey.ExportSubjectPublicKeyInfo()));
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--ignore-certificate-errors-spki-list=" + spki],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task PasswordAndTotp_ThroughTheCodeFlow_ToTokens_OnAPhoneWidthScreen()
    {
        var (user, totp) = await _server.AddUserAsync("dr.chen", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        await using var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 375, Height = 740 } });
        var page = await context.NewPageAsync();
        var callback = await CaptureCallbackAsync(page);

        await page.GotoAsync(_server.ListenAddress + AuthorizeUrl(challenge));
        Assert.Equal("Sign in - Safeguard", await page.TitleAsync());
        Assert.True(await FitsAsync(page), "the sign-in page scrolls sideways on a phone-width screen");
        await page.GetByLabel("Username").FillAsync("dr.chen");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.WaitForURLAsync("**/signin/mfa");
        Assert.True(await FitsAsync(page), "the second-step page scrolls sideways on a phone-width screen");
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp!));
        await page.Keyboard.PressAsync("Enter"); // the form works from the keyboard
        var back = new Uri(await callback.Task.WaitAsync(TimeSpan.FromSeconds(30)));

        var query = FormBrowser.QueryOf(back);
        Assert.Equal(_server.Issuer, query["iss"]);
        Assert.Equal("from-the-browser", query["state"]);
        var tokens = await RedeemAsync(query["code"], verifier);
        Assert.True(tokens.TryGetProperty("access_token", out _), tokens.ToString());
        Assert.True(tokens.TryGetProperty("id_token", out _));
        var cookies = await context.CookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == "__Host-safeguard-session");
        Assert.True(session.Secure);
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Lax, session.SameSite);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionStarted && e.Subject == user.Subject);
    }

    [Fact]
    public async Task AWrongPassword_ShowsOneMessageInAnAlert_AndTheIdleTimeoutEndsASession()
    {
        var (_, totp) = await _server.AddUserAsync("nurse.ali", Password);
        var (_, challenge) = FormBrowser.Pkce();
        await using var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var callback = await CaptureCallbackAsync(page);

        await page.GotoAsync(_server.ListenAddress + AuthorizeUrl(challenge));
        await page.GetByLabel("Username").FillAsync("nurse.ali");
        await page.GetByLabel("Password").FillAsync("this is not the password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        var alert = page.GetByRole(AriaRole.Alert);
        await alert.WaitForAsync();
        Assert.Contains("not right", await alert.InnerTextAsync(), StringComparison.Ordinal);

        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await callback.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The first tab is still finishing its navigation to the client: go on in a new tab of the same browser.
        page = await context.NewPageAsync();

        await page.GotoAsync(_server.ListenAddress + "/");
        Assert.Contains("nurse.ali", await page.Locator("#signed-in-user").InnerTextAsync(), StringComparison.Ordinal);
        _server.Time.Advance(TimeSpan.FromMinutes(16));
        await page.GotoAsync(_server.ListenAddress + "/");
        Assert.Contains("You are not signed in", await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionTimedOut);
    }

    [Fact]
    public async Task SigningOut_EndsTheSession()
    {
        var (_, totp) = await _server.AddUserAsync("admin.kim", Password);
        var (_, challenge) = FormBrowser.Pkce();
        await using var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var callback = await CaptureCallbackAsync(page);
        await page.GotoAsync(_server.ListenAddress + AuthorizeUrl(challenge));
        await page.GetByLabel("Username").FillAsync("admin.kim");
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp!));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await callback.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The first tab is still finishing its navigation to the client: go on in a new tab of the same browser.
        page = await context.NewPageAsync();

        await page.GotoAsync(_server.ListenAddress + "/");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Signed out" }).WaitForAsync();
        await page.GotoAsync(_server.ListenAddress + AuthorizeUrl(challenge));

        Assert.Contains("/signin?request=", page.Url, StringComparison.Ordinal);
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "__Host-safeguard-session");
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionEnded);
    }

    /// <summary>Answers the client's redirect URI inside the browser and hands back the URL it was called with.</summary>
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

    private static async Task<bool> FitsAsync(IPage page) => await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth");

    private static string AuthorizeUrl(string challenge) =>
        "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
        + "&scope=openid%20patient.read&state=from-the-browser&nonce=n1&code_challenge=" + challenge + "&code_challenge_method=S256";

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
