using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed class PasswordSignInTests : IDisposable
{
    private const string Password = "quiet harbor lantern moss";
    private const string Source = "192.0.2.10";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
    private readonly InMemoryUserStore _users = new();
    private readonly PasswordHasher _hasher;
    private readonly SignInOptions _options = new();
    private PasswordSignIn _signIn;

    public PasswordSignInTests()
    {
        // The cheapest cost the validator allows keeps these tests fast; the rules do not depend on it.
        _hasher = new PasswordHasher(Options.Create(new PasswordOptions { HashMemoryKib = 7168, HashIterations = 5 }), _time);
        _signIn = Create(_options);
    }

    [Fact]
    public async Task TheRightPassword_SignsIn()
    {
        var user = await AddUserAsync("jsmith");

        var result = await _signIn.SignInAsync("JSmith", Password, Source, CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(user.Subject, result.User.Subject);
        Assert.Null(result.ErrorCode);
    }

    [Fact]
    public async Task EveryRefusal_CostsExactlyOneArgon2id_AndCarriesItsOwnReasonForTheAuditOnly()
    {
        await AddUserAsync("known");
        await AddUserAsync("disabled.user", u => u with { Status = UserStatus.Disabled });
        await AddUserAsync("locked.user", u => u with { Status = UserStatus.Locked, FailedSignIns = 100 });
        await AddUserAsync("no.password", u => u with { PasswordHash = null });
        await AddUserAsync("in.backoff", u => u with { FailedSignIns = 7, LastFailedSignInAt = _time.GetUtcNow() });

        var cases = new (string Username, string Password, string Code)[]
        {
            ("nobody", Password, SafeguardErrorCodes.SignInUnknownUser),
            ("not a username!", Password, SafeguardErrorCodes.SignInUnknownUser),
            ("known", "the wrong password entirely", SafeguardErrorCodes.SignInWrongPassword),
            ("disabled.user", Password, SafeguardErrorCodes.SignInUserDisabled),
            ("locked.user", Password, SafeguardErrorCodes.SignInUserLocked),
            ("no.password", Password, SafeguardErrorCodes.SignInNoPassword),
            ("in.backoff", Password, SafeguardErrorCodes.SignInThrottled),
        };
        foreach (var (username, password, code) in cases)
        {
            var before = _hasher.Derivations;
            var result = await _signIn.SignInAsync(username, password, "198.51.100." + code[^1], CancellationToken.None);

            Assert.Equal(SignInOutcome.Failed, result.Outcome);
            Assert.Equal(code, result.ErrorCode);
            Assert.Equal(1, _hasher.Derivations - before);
        }
    }

    [Fact]
    public async Task AfterFiveFailures_BackoffDoublesFromOneSecond_AndARightPasswordInsideItIsRefused()
    {
        var user = await AddUserAsync("jsmith");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(SafeguardErrorCodes.SignInWrongPassword, (await _signIn.SignInAsync("jsmith", "wrong password number " + i, Source + i, CancellationToken.None)).ErrorCode);
        }

        Assert.Equal(TimeSpan.FromSeconds(1), _signIn.Backoff(5));
        Assert.Equal(TimeSpan.FromSeconds(2), _signIn.Backoff(6));
        Assert.Equal(TimeSpan.FromMinutes(15), _signIn.Backoff(40));
        Assert.Equal(SafeguardErrorCodes.SignInThrottled, (await _signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).ErrorCode);
        Assert.Equal(5, _users[user.Subject].FailedSignIns); // a refusal in back-off is not another failure

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True((await _signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).Succeeded);
        Assert.Equal(0, _users[user.Subject].FailedSignIns);
        Assert.Null(_users[user.Subject].LastFailedSignInAt);
    }

    [Fact]
    public async Task AtTheLockLimit_TheAccountLocks_AndStaysLockedWithTheRightPassword()
    {
        _signIn = Create(new SignInOptions { FreeFailures = 3, LockAfterFailures = 4, SourceFailureLimit = 100 });
        var user = await AddUserAsync("jsmith");
        SignInResult last = null!;
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromMinutes(20)); // past any back-off
            last = await _signIn.SignInAsync("jsmith", "wrong password number " + i, Source, CancellationToken.None);
        }

        Assert.Equal(UserStatus.Locked, _users[user.Subject].Status);
        Assert.Contains("now locked", last.Detail, StringComparison.Ordinal);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(SafeguardErrorCodes.SignInUserLocked, (await _signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).ErrorCode);
    }

    [Fact]
    public async Task ASourceThatFailsTooOften_IsRefusedUnchecked_UntilItsWindowPasses()
    {
        _signIn = Create(new SignInOptions { SourceFailureLimit = 3, SourceWindow = TimeSpan.FromMinutes(5) });
        await AddUserAsync("jsmith");
        for (var i = 0; i < 3; i++)
        {
            await _signIn.SignInAsync("user" + i, Password, Source, CancellationToken.None);
        }

        var before = _hasher.Derivations;
        var throttled = await _signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None);
        var otherSource = await _signIn.SignInAsync("jsmith", Password, "203.0.113.7", CancellationToken.None);

        Assert.Equal(SafeguardErrorCodes.SignInThrottled, throttled.ErrorCode);
        Assert.Equal(1, _hasher.Derivations - before); // only the other source's attempt was checked
        Assert.True(otherSource.Succeeded);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.True((await _signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task ABurstOfFailuresAcrossAccounts_RaisesOneAlertPerWindow_ButOnePersonMistypingDoesNot()
    {
        _signIn = Create(new SignInOptions { AlertFailures = 10, AlertDistinctAccounts = 5, AlertWindow = TimeSpan.FromMinutes(5), SourceFailureLimit = 1000 });
        var alerts = new List<SignInAlert>();
        for (var i = 0; i < 12; i++)
        {
            var result = await _signIn.SignInAsync("sameperson", "wrong", Source, CancellationToken.None);
            if (result.Alert is not null)
            {
                alerts.Add(result.Alert);
            }
        }

        Assert.Empty(alerts);
        for (var i = 0; i < 20; i++)
        {
            var result = await _signIn.SignInAsync("sprayed" + i, "Summer2026!", "203.0.113." + i, CancellationToken.None);
            if (result.Alert is not null)
            {
                alerts.Add(result.Alert);
            }
        }

        var alert = Assert.Single(alerts);
        Assert.True(alert.Accounts >= 5);
        Assert.True(alert.Failures >= 10);
    }

    [Fact]
    public async Task AHashWeakerThanConfigured_IsReplacedAtTheNextSignIn()
    {
        using var weak = new PasswordHasher(Options.Create(new PasswordOptions { HashMemoryKib = 7168, HashIterations = 5 }), _time);
        using var stronger = new PasswordHasher(Options.Create(new PasswordOptions { HashMemoryKib = 9216, HashIterations = 5 }), _time);
        var user = await AddUserAsync("jsmith", u => u with { PasswordHash = weak.HashAsync(Password, CancellationToken.None).Result });
        var signIn = new PasswordSignIn(_users, stronger, new SignInMonitor(Options.Create(_options)), Options.Create(_options), _time);

        Assert.True((await signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).Succeeded);

        Assert.True(PasswordHasher.TryReadCost(_users[user.Subject].PasswordHash, out var cost));
        Assert.Equal(9216, cost.MemoryKib);
        Assert.True((await signIn.SignInAsync("jsmith", Password, Source, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public void Options_OutOfRange_AreRefused()
    {
        var result = new SignInOptionsValidator().Validate(null, new SignInOptions { FreeFailures = 0, LockAfterFailures = 500, MaxBackoff = TimeSpan.Zero, AlertDistinctAccounts = 0 });

        Assert.Equal(4, result.Failures!.Count());
        Assert.Contains(result.Failures!, f => f.Contains("LockAfterFailures is 500", StringComparison.Ordinal));
    }

    public void Dispose() => _hasher.Dispose();

    private PasswordSignIn Create(SignInOptions options) => new(_users, _hasher, new SignInMonitor(Options.Create(options)), Options.Create(options), _time);

    private async Task<User> AddUserAsync(string username, Func<User, User>? change = null)
    {
        var now = _time.GetUtcNow();
        var user = new User { Subject = UserSubjects.New(), Username = username, PasswordHash = await _hasher.HashAsync(Password, CancellationToken.None), CreatedAt = now, UpdatedAt = now };
        user = change?.Invoke(user) ?? user;
        await _users.AddAsync(user, CancellationToken.None);
        return user;
    }
}
