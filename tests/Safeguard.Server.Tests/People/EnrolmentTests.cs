using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using OtpNet;
using Safeguard.Audit;
using Safeguard.Users;

namespace Safeguard.Server.Tests.People;

/// <summary>Enrolment links over the real server: the first administrator's link at first start, and links for added users.</summary>
public sealed partial class EnrolmentTests
{
    private const string Password = "copper lantern orchard meadow";

    [Fact]
    public async Task FirstStart_PrintsALink_ThatLeadsToASignedInAdministrator()
    {
        await using var server = await RunningServer.StartAsync();
        var link = LinkIn(server.ConsoleOutput);
        Assert.StartsWith(server.Issuer + "/enrol?code=", link, StringComparison.Ordinal);
        var admin = await server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("admin", CancellationToken.None);
        Assert.NotNull(admin);
        Assert.Null(admin.PasswordHash);
        Assert.Equal(["admin"], admin.Roles);

        using var browser = new FormBrowser(server);
        var opened = await browser.GetAsync(link);
        Assert.Equal(HttpStatusCode.Redirect, opened.StatusCode);
        Assert.Equal("/enrol", opened.Headers.Location!.OriginalString); // the code leaves the address bar at once
        var page = await browser.GetAsync("/enrol");
        Assert.Contains("Choose a password", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("autocomplete=\"new-password\"", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        await browser.PostAsync("/enrol?handler=password", ("newPassword", "password1"), ("confirmPassword", "password1"));
        Assert.Contains("class=\"error\"", browser.LastPage, StringComparison.Ordinal);
        await browser.PostAsync("/enrol?handler=password", ("newPassword", Password), ("confirmPassword", Password + "x"));
        Assert.Contains("not the same", browser.LastPage, StringComparison.Ordinal);
        var set = await browser.PostAsync("/enrol?handler=password", ("newPassword", Password), ("confirmPassword", Password));
        Assert.Equal(HttpStatusCode.Redirect, set.StatusCode);

        await browser.GetAsync("/enrol");
        Assert.Contains("data:image/png;base64,", browser.LastPage, StringComparison.Ordinal);
        var secret = SecretOnPage().Match(browser.LastPage!).Groups[1].Value.Replace(" ", string.Empty, StringComparison.Ordinal);
        await browser.GetAsync("/enrol"); // shown again: the same key, not a new one
        Assert.Equal(secret, SecretOnPage().Match(browser.LastPage!).Groups[1].Value.Replace(" ", string.Empty, StringComparison.Ordinal));
        var totp = new Totp(Base32Encoding.ToBytes(secret));
        var code = totp.ComputeTotp(server.Time.GetUtcNow().UtcDateTime);

        await browser.PostAsync("/enrol?handler=totp", ("code", code == "000000" ? "111111" : "000000"));
        Assert.Contains("did not match", browser.LastPage, StringComparison.Ordinal);
        var done = await browser.PostAsync("/enrol?handler=totp", ("code", code));
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Equal(RecoveryCodes.Count, RecoveryCodeOnPage().Count(browser.LastPage!));

        await browser.GetAsync("/");
        Assert.Contains("id=\"signed-in-user\">admin<", browser.LastPage, StringComparison.Ordinal);

        // The link worked once.
        using var other = new FormBrowser(server);
        await other.GetAsync(link);
        Assert.Contains("expired or has already been used", other.LastPage, StringComparison.Ordinal);

        // The administrator signs in again with the password and the app (the enrolment's code is spent).
        server.Time.Advance(TimeSpan.FromSeconds(30));
        await other.GetAsync("/signin");
        await other.PostAsync("/signin", ("username", "admin"), ("password", Password));
        await other.GetAsync("/signin/mfa");
        var mfa = await other.PostAsync("/signin/mfa", ("code", totp.ComputeTotp(server.Time.GetUtcNow().UtcDateTime)));
        Assert.Equal(HttpStatusCode.SeeOther, mfa.StatusCode);

        var events = await server.AuditEventsAsync();
        var subject = admin.Subject;
        Assert.Contains(events, e => e.Type == AuditEventType.UserChanged && e.Subject == subject && e.Action == AuditAction.Create && e.Reason!.StartsWith("first administrator", StringComparison.Ordinal));
        Assert.Contains(events, e => e.Type == AuditEventType.UserChanged && e.Subject == subject && e.Reason == "password set with an enrolment link");
        Assert.Contains(events, e => e.Type == AuditEventType.MfaEnrolled && e.Subject == subject);
        Assert.Contains(events, e => e.Type == AuditEventType.SessionStarted && e.Subject == subject);
        Assert.DoesNotContain(events, e => e.Reason?.Contains(link[(link.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task WhenStandardOutputIsNotATerminal_TheLinkIsOnlyInAnOwnerOnlyFile_AndTheFileGoesOnceSomeoneCanSignIn()
    {
        var data = Directory.CreateTempSubdirectory("sg-enrol-").FullName;
        try
        {
            var collected = new StringWriter();
            string link;
            await using (var server = await RunningServer.StartWithAsync(s => s.AddSingleton(new Hosting.ServerConsole(collected, Interactive: false)), data))
            {
                var file = Safeguard.Hosting.SafeguardDataFolder.At(data).FirstAdministratorLink;
                link = File.ReadAllText(file).Trim();
                Assert.StartsWith(server.Issuer + "/enrol?code=", link, StringComparison.Ordinal);
                Assert.DoesNotContain("/enrol?code=", collected.ToString(), StringComparison.Ordinal);
                Assert.Contains(file, collected.ToString(), StringComparison.Ordinal);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                await server.AddUserAsync("jsmith", Password);
            }

            await using (var server = await RunningServer.StartAsync(dataPath: data))
            {
                Assert.False(File.Exists(Safeguard.Hosting.SafeguardDataFolder.At(data).FirstAdministratorLink));
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task ARestart_BeforeAnyoneHasAPassword_ReplacesTheLink_AndAfterwardsPrintsNone()
    {
        var data = Directory.CreateTempSubdirectory("sg-enrol-").FullName;
        try
        {
            string first;
            await using (var server = await RunningServer.StartAsync(dataPath: data))
            {
                first = LinkIn(server.ConsoleOutput);
            }

            await using (var server = await RunningServer.StartAsync(dataPath: data))
            {
                var second = LinkIn(server.ConsoleOutput);
                Assert.NotEqual(first, second);
                Assert.Single(await server.Services.GetRequiredService<IUserStore>().GetAllAsync(CancellationToken.None));
                using var browser = new FormBrowser(server);
                await browser.GetAsync(new Uri(first).PathAndQuery);
                Assert.Contains("expired or has already been used", browser.LastPage, StringComparison.Ordinal);
                await server.AddUserAsync("jsmith", Password);
            }

            await using (var server = await RunningServer.StartAsync(dataPath: data))
            {
                Assert.DoesNotContain("/enrol?code=", server.ConsoleOutput, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task AUserWithAnAdministratorsTotp_SetsOnlyAPassword_ThenSignsInWithBoth()
    {
        await using var server = await RunningServer.StartAsync();
        var (user, totp) = await server.AddUserAsync("mchen", Password);
        var users = server.Services.GetRequiredService<IUserStore>();
        var stored = (await users.FindBySubjectAsync(user.Subject, CancellationToken.None))!;
        Assert.True(await users.UpdateAsync(stored with { PasswordHash = null, UpdatedAt = stored.UpdatedAt.AddSeconds(1) }, stored.UpdatedAt, CancellationToken.None));
        var (_, code) = await server.Services.GetRequiredService<EnrolmentLinks>().IssueAsync(user, CancellationToken.None);

        using var browser = new FormBrowser(server);
        await browser.GetAsync("/enrol?code=" + code);
        await browser.GetAsync("/enrol");
        await browser.PostAsync("/enrol?handler=password", ("newPassword", "short but mfa"), ("confirmPassword", "short but mfa"));
        await browser.GetAsync("/enrol");
        Assert.Contains("Your password is set", browser.LastPage, StringComparison.Ordinal);
        Assert.Null(await server.Services.GetRequiredService<EnrolmentLinks>().FindLiveAsync(code, CancellationToken.None));

        await browser.GetAsync("/signin");
        await browser.PostAsync("/signin", ("username", "mchen"), ("password", "short but mfa"));
        await browser.GetAsync("/signin/mfa");
        var back = await browser.PostAsync("/signin/mfa", ("code", server.TotpCode(totp!)));
        Assert.Equal(HttpStatusCode.SeeOther, back.StatusCode);
        Assert.Equal("/", back.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task ALinkForAUserWhoAlreadyHasAPassword_EnrolsTheFactor_ButDoesNotSignThisBrowserIn()
    {
        await using var server = await RunningServer.StartAsync();
        var (user, _) = await server.AddUserAsync("lpatel", Password, totp: false);
        var (_, code) = await server.Services.GetRequiredService<EnrolmentLinks>().IssueAsync(user, CancellationToken.None);
        using var browser = new FormBrowser(server);
        await browser.GetAsync("/enrol?code=" + code);
        await browser.GetAsync("/enrol");
        Assert.Contains("data:image/png;base64,", browser.LastPage, StringComparison.Ordinal); // straight to the app: the password is set
        var secret = SecretOnPage().Match(browser.LastPage!).Groups[1].Value.Replace(" ", string.Empty, StringComparison.Ordinal);

        var done = await browser.PostAsync("/enrol?handler=totp", ("code", new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(server.Time.GetUtcNow().UtcDateTime)));

        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Equal(RecoveryCodes.Count, RecoveryCodeOnPage().Count(browser.LastPage!));
        Assert.Contains("href=\"/signin\">Sign in<", browser.LastPage, StringComparison.Ordinal);
        Assert.DoesNotContain(browser.Cookies.GetAllCookies(), c => c.Name == "__Host-safeguard-session");
        Assert.DoesNotContain(await server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionStarted && e.Subject == user.Subject);
    }

    [Fact]
    public async Task ALinkForADisabledUser_OrAnExpiredLink_EnrolsNothing()
    {
        await using var server = await RunningServer.StartAsync(extra: "--Safeguard:SignIn:EnrolmentLinkLifetime=00:05:00");
        var users = server.Services.GetRequiredService<IUserStore>();
        var now = server.Time.GetUtcNow();
        var user = new User { Subject = UserSubjects.New(), Username = "nwu", CreatedAt = now, UpdatedAt = now };
        await users.AddAsync(user, CancellationToken.None);
        var links = server.Services.GetRequiredService<EnrolmentLinks>();

        var (_, code) = await links.IssueAsync(user, CancellationToken.None);
        Assert.True(await users.UpdateAsync(user with { Status = UserStatus.Disabled, UpdatedAt = now.AddSeconds(1) }, now, CancellationToken.None));
        using var browser = new FormBrowser(server);
        await browser.GetAsync("/enrol?code=" + code);
        await browser.GetAsync("/enrol");
        Assert.Contains("expired or has already been used", browser.LastPage, StringComparison.Ordinal);
        await browser.PostAsync("/enrol?handler=password", ("newPassword", Password), ("confirmPassword", Password));
        Assert.Null((await users.FindBySubjectAsync(user.Subject, CancellationToken.None))!.PasswordHash);

        var enabled = (await users.FindBySubjectAsync(user.Subject, CancellationToken.None))!;
        Assert.True(await users.UpdateAsync(enabled with { Status = UserStatus.Active, UpdatedAt = now.AddSeconds(2) }, enabled.UpdatedAt, CancellationToken.None));
        var (_, fresh) = await links.IssueAsync(enabled, CancellationToken.None);
        server.Time.Advance(TimeSpan.FromMinutes(5));
        using var late = new FormBrowser(server);
        var opened = await late.GetAsync("/enrol?code=" + fresh);
        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        Assert.Contains("expired or has already been used", late.LastPage, StringComparison.Ordinal);
    }

    private static string LinkIn(string console) => Assert.Single(LinkOnConsole().Matches(console)).Value;

    [GeneratedRegex(@"https://\S+/enrol\?code=[A-Za-z0-9_-]{43}")]
    private static partial Regex LinkOnConsole();

    [GeneratedRegex("<code id=\"totp-secret\">([A-Z2-7 ]+)</code>")]
    private static partial Regex SecretOnPage();

    [GeneratedRegex(@"<li><code>[0-9A-Z]{4}(-[0-9A-Z]{4}){5}</code></li>")]
    private static partial Regex RecoveryCodeOnPage();
}
