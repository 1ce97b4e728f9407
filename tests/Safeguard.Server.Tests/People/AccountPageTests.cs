using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Audit;
using Safeguard.Users;

namespace Safeguard.Server.Tests.People;

/// <summary>The account page over the real server: sessions on every device (end one), sign-in methods (remove a passkey while another factor remains).</summary>
public sealed partial class AccountPageTests : IAsyncLifetime
{
    private const string Password = "copper lantern orchard meadow";

    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AUser_SeesTheirSessionsOnEveryDevice_AndEndsAnother()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        using var laptop = new FormBrowser(_server);
        using var phone = new FormBrowser(_server);
        await SignInAsync(laptop, totp!);
        _server.Time.Advance(TimeSpan.FromSeconds(30)); // the next TOTP step: each code works once
        await SignInAsync(phone, totp!);

        await laptop.GetAsync("/");
        Assert.Equal(2, SessionRow().Count(laptop.LastPage!));
        Assert.Contains("This session", laptop.LastPage, StringComparison.Ordinal);
        var other = Assert.Single(EndButton().Matches(laptop.LastPage!)).Groups[1].Value;

        var ended = await laptop.PostAsync("/?handler=endSession", ("id", other));
        Assert.Equal(HttpStatusCode.Redirect, ended.StatusCode);

        await phone.GetAsync("/");
        Assert.Contains("You are not signed in", phone.LastPage, StringComparison.Ordinal);
        await laptop.GetAsync("/");
        Assert.Equal(1, SessionRow().Count(laptop.LastPage!));
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.SessionEnded && e.SessionId == other && e.Subject == user.Subject);
    }

    [Fact]
    public async Task ASessionOfAnotherUser_CannotBeEndedFromThisAccount()
    {
        var (_, totp) = await _server.AddUserAsync("jsmith", Password);
        var (other, otherTotp) = await _server.AddUserAsync("mchen", Password);
        using var mine = new FormBrowser(_server);
        using var theirs = new FormBrowser(_server);
        await SignInAsync(mine, totp!);
        await SignInAsync(theirs, otherTotp!, "mchen");
        var theirSession = Assert.Single(await _server.Services.GetRequiredService<Safeguard.Sessions.ISessionStore>().GetActiveForUserAsync(other.Subject, CancellationToken.None)).Id;

        await mine.GetAsync("/");
        await mine.PostAsync("/?handler=endSession", ("id", theirSession));

        await theirs.GetAsync("/");
        Assert.Contains("id=\"signed-in-user\">mchen<", theirs.LastPage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APasskey_IsRemovedWhileAnotherFactorRemains_TheLastOneIsNot()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        var store = _server.Services.GetRequiredService<IAuthenticatorStore>();
        var passkey = Passkey(user.Subject);
        await store.AddAsync([passkey], CancellationToken.None);
        using var browser = new FormBrowser(_server);
        await SignInAsync(browser, totp!);
        await browser.GetAsync("/");
        Assert.Contains("Passkey added", browser.LastPage, StringComparison.Ordinal);

        await browser.PostAsync("/?handler=removePasskey", ("id", passkey.Id));
        Assert.DoesNotContain(await store.GetForUserAsync(user.Subject, CancellationToken.None), a => a.Id == passkey.Id);
        Assert.Contains(await _server.AuditEventsAsync(), e => e.Type == AuditEventType.MfaRemoved && e.ResourceId == passkey.Id);

        // With the app gone, a passkey that is the only second factor stays.
        var only = Passkey(user.Subject);
        await store.AddAsync([only], CancellationToken.None);
        await store.RemoveAsync(user.Subject, totp!.Id, CancellationToken.None);
        await browser.GetAsync("/");
        await browser.PostAsync("/?handler=removePasskey", ("id", only.Id));
        Assert.Contains("only second factor", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains(await store.GetForUserAsync(user.Subject, CancellationToken.None), a => a.Id == only.Id);
    }

    [Fact]
    public async Task ChangingSignInMethods_NeedsARecentSignInWithASecondFactor()
    {
        var (user, totp) = await _server.AddUserAsync("jsmith", Password);
        var store = _server.Services.GetRequiredService<IAuthenticatorStore>();
        var passkey = Passkey(user.Subject);
        await store.AddAsync([passkey], CancellationToken.None);
        using var browser = new FormBrowser(_server);
        await SignInAsync(browser, totp!);

        // Still signed in (active every 10 minutes), but the sign-in itself is 20 minutes old.
        _server.Time.Advance(TimeSpan.FromMinutes(10));
        await browser.GetAsync("/");
        _server.Time.Advance(TimeSpan.FromMinutes(10));
        await browser.GetAsync("/");
        Assert.Contains("id=\"signed-in-user\">jsmith<", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("sign in again", browser.LastPage, StringComparison.Ordinal);

        await browser.PostAsync("/?handler=removePasskey", ("id", passkey.Id));
        Assert.Contains("sign in again with your second factor first", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains(await store.GetForUserAsync(user.Subject, CancellationToken.None), a => a.Id == passkey.Id);
    }

    private async Task SignInAsync(FormBrowser browser, Authenticator totp, string username = "jsmith")
    {
        await browser.GetAsync("/signin");
        await browser.PostAsync("/signin", ("username", username), ("password", Password));
        await browser.GetAsync("/signin/mfa");
        var done = await browser.PostAsync("/signin/mfa", ("code", _server.TotpCode(totp)));
        Assert.Equal(HttpStatusCode.SeeOther, done.StatusCode);
    }

    private Authenticator Passkey(string subject) => new()
    {
        Id = AuthenticatorIds.New(),
        Subject = subject,
        Kind = AuthenticatorKind.Passkey,
        Name = "Passkey added 2026-12-01",
        CredentialId = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16),
        PublicKey = [1, 2, 3],
        CreatedAt = _server.Time.GetUtcNow(),
    };

    [GeneratedRegex(@"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC</td>\s*<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC</td>")]
    private static partial Regex SessionRow();

    [GeneratedRegex("name=\"id\" value=\"([^\"]+)\">\\s*<button type=\"submit\" class=\"secondary\">End</button>")]
    private static partial Regex EndButton();
}
