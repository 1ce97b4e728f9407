using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Safeguard.Audit;
using Safeguard.Users;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// The rest of a person's life cycle in Chromium against the real TLS server: a TOTP code refused the second time,
/// lockout after the configured failures, RP-initiated logout ending the session with its refresh tokens, and a
/// reused refresh token revoking its whole family.
/// </summary>
public sealed class BrowserLifecycleTests : IAsyncLifetime
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

        _server = await RunningServer.StartAsync(extra: ["--Safeguard:SignIn:FreeFailures=3", "--Safeguard:SignIn:LockAfterFailures=3"]);
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, scopes: ["patient.read"], refresh: true))!;
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
    public async Task ATotpCode_WorksOnce_AndTooManyWrongPasswordsLockTheAccount()
    {
        var (user, totp) = await _server.AddUserAsync("dr.okafor", Password);
        var code = _server.TotpCode(totp!);
        await using (var first = await _browser.NewContextAsync())
        {
            var page = await first.NewPageAsync();
            await SignInAsync(page, "dr.okafor", Password);
            await page.GetByLabel("Code").FillAsync(code);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            await page.GetByRole(AriaRole.Heading, new() { Name = "Signed in" }).WaitForAsync();
        }

        await using (var second = await _browser.NewContextAsync())
        {
            var page = await second.NewPageAsync();
            await SignInAsync(page, "dr.okafor", Password);
            await page.GetByLabel("Code").FillAsync(code); // the same code, still within its 30 seconds
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            var alert = page.GetByRole(AriaRole.Alert);
            await alert.WaitForAsync();
            Assert.Contains("each code works once", await alert.InnerTextAsync(), StringComparison.Ordinal);
        }

        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.MfaFailed && e.Subject == user.Subject && e.Reason!.StartsWith(SafeguardErrorCodes.MfaReplayed, StringComparison.Ordinal));

        var (locked, _) = await _server.AddUserAsync("nurse.park", Password);
        await using var third = await _browser.NewContextAsync();
        var attempts = await third.NewPageAsync();
        for (var i = 0; i < 3; i++)
        {
            await SignInAsync(attempts, "nurse.park", "not the password at all " + i);
            Assert.Contains("not right", await attempts.GetByRole(AriaRole.Alert).InnerTextAsync(), StringComparison.Ordinal);
            _server.Time.Advance(TimeSpan.FromMinutes(20)); // past any back-off: only the count matters here
        }

        await SignInAsync(attempts, "nurse.park", Password);
        Assert.Contains("not right", await attempts.GetByRole(AriaRole.Alert).InnerTextAsync(), StringComparison.Ordinal); // the same answer, locked or not
        Assert.Equal(UserStatus.Locked, (await _server.Services.GetRequiredService<IUserStore>().FindBySubjectAsync(locked.Subject, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Logout_EndsTheSessionAndItsRefreshTokens_AndAReusedRefreshTokenRevokesItsFamily()
    {
        var (_, totp) = await _server.AddUserAsync("dr.ngata", Password);
        await using var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var tokens = await SignInThroughTheCodeFlowAsync(page, "dr.ngata", totp!);
        var refresh1 = tokens.GetProperty("refresh_token").GetString()!;
        var access = tokens.GetProperty("access_token").GetString()!;

        // Rotation, then reuse of the old one: the whole family is revoked.
        var (status, rotated) = await RefreshAsync(refresh1);
        Assert.Equal(HttpStatusCode.OK, status);
        var refresh2 = rotated.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshAsync(refresh1)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshAsync(refresh2)).Status);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.RefreshReuseDetected);

        // Sign in again, then log out from the application: the session, its refresh tokens and /userinfo all end.
        _server.Time.Advance(TimeSpan.FromSeconds(30));
        page = await context.NewPageAsync();
        tokens = await SignInThroughTheCodeFlowAsync(page, "dr.ngata", totp!);
        var refresh3 = tokens.GetProperty("refresh_token").GetString()!;
        access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await UserInfoAsync(access));

        page = await context.NewPageAsync();
        var back = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        page.Request += (_, request) =>
        {
            if (request.Url.StartsWith(RedirectUri, StringComparison.Ordinal))
            {
                back.TrySetResult(request.Url); // the redirect back to the client (a route does not see redirected requests; the name does not resolve here)
            }
        };
        try
        {
            await page.GotoAsync(_server.ListenAddress + "/logout?id_token_hint=" + tokens.GetProperty("id_token").GetString()
                + "&post_logout_redirect_uri=" + Uri.EscapeDataString(RedirectUri) + "&state=bye");
        }
        catch (PlaywrightException) when (back.Task.IsCompleted)
        {
        }

        Assert.Equal("bye", FormBrowser.QueryOf(new Uri(await back.Task.WaitAsync(TimeSpan.FromSeconds(30))))["state"]);

        Assert.Equal(HttpStatusCode.BadRequest, (await RefreshAsync(refresh3)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, await UserInfoAsync(access));
        page = await context.NewPageAsync();
        await page.GotoAsync(_server.ListenAddress + "/");
        Assert.Contains("You are not signed in", await page.ContentAsync(), StringComparison.Ordinal);
    }

    private async Task SignInAsync(IPage page, string username, string password)
    {
        await page.GotoAsync(_server.ListenAddress + "/signin");
        await page.GetByLabel("Username").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(password);
        // Wait for the form's answer itself (a password check takes a while on a busy machine), then for its page.
        await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync(),
            response => response.Request.Method == "POST" && new Uri(response.Url).AbsolutePath == "/signin",
            new() { Timeout = 60_000 });
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded, new() { Timeout = 60_000 });
    }

    private async Task<JsonElement> SignInThroughTheCodeFlowAsync(IPage page, string username, Authenticator totp)
    {
        var (verifier, challenge) = FormBrowser.Pkce();
        var callback = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync("https://app.example.org/**", async route =>
        {
            callback.TrySetResult(route.Request.Url);
            await route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "text/plain", Body = "signed in" });
        });
        await page.GotoAsync(_server.ListenAddress + "/authorize?response_type=code&client_id=chart-app&redirect_uri=" + Uri.EscapeDataString(RedirectUri)
            + "&scope=openid%20patient.read&state=s&prompt=login&code_challenge=" + challenge + "&code_challenge_method=S256");
        await page.GetByLabel("Username").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await page.GetByLabel("Code").FillAsync(_server.TotpCode(totp));
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        var code = FormBrowser.QueryOf(new Uri(await callback.Task.WaitAsync(TimeSpan.FromSeconds(30))))["code"];
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier }),
        };
        message.Headers.Authorization = Basic();
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(response.IsSuccessStatusCode, json.RootElement.ToString());
        return json.RootElement.Clone();
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> RefreshAsync(string refreshToken)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken }),
        };
        message.Headers.Authorization = Basic();
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, json.RootElement.Clone());
    }

    private async Task<HttpStatusCode> UserInfoAsync(string accessToken)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Get, "/userinfo");
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return (await http.SendAsync(message)).StatusCode;
    }

    private AuthenticationHeaderValue Basic() => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chart-app:" + _secret)));
}
