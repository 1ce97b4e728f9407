using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed partial class PasswordHasherTests : IDisposable
{
    // Made by the reference implementation, independently of NSec:
    // echo -n "correct horse battery staple" | argon2 "0123456789abcdef" -id -t 2 -k 19456 -p 1 -l 32 -e
    private const string ReferenceHash = "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0";

    private readonly PasswordHasher _hasher = new(Options.Create(new PasswordOptions()), TimeProvider.System);

    [Fact]
    public async Task Verify_AcceptsAHashFromTheReferenceImplementation_AndNothingElse()
    {
        var right = await _hasher.VerifyAsync("correct horse battery staple", ReferenceHash, CancellationToken.None);
        var wrong = await _hasher.VerifyAsync("correct horse battery stapler", ReferenceHash, CancellationToken.None);

        Assert.Equal(new PasswordVerification(true, false), right);
        Assert.False(wrong.Matches);
    }

    [Fact]
    public async Task Hash_IsSelfDescribingArgon2idAtTheOwaspCost_WithAFreshSalt()
    {
        var first = await _hasher.HashAsync("a long passphrase to hash", CancellationToken.None);
        var second = await _hasher.HashAsync("a long passphrase to hash", CancellationToken.None);

        Assert.Matches(PhcPattern(), first);
        Assert.NotEqual(first, second);
        Assert.True(PasswordHasher.TryReadCost(first, out var cost));
        Assert.Equal(new Argon2idCost(19456, 2, 1), cost);
        Assert.True((await _hasher.VerifyAsync("a long passphrase to hash", second, CancellationToken.None)).Matches);
    }

    [Fact]
    public async Task Passwords_AreNormalisedToNfkc_AndNeverTruncated()
    {
        var ligature = await _hasher.HashAsync("\uFB01ve boxing wizards jump", CancellationToken.None); // "ﬁ" ligature
        var longPassword = new string('x', 200) + "y";
        var longHash = await _hasher.HashAsync(longPassword, CancellationToken.None);

        Assert.True((await _hasher.VerifyAsync("five boxing wizards jump", ligature, CancellationToken.None)).Matches);
        Assert.False((await _hasher.VerifyAsync(new string('x', 200) + "z", longHash, CancellationToken.None)).Matches);
        Assert.False((await _hasher.VerifyAsync(new string('x', 200), longHash, CancellationToken.None)).Matches);
    }

    [Fact]
    public async Task AHashWeakerThanConfigured_AsksForARehash_OnlyWhenItMatches()
    {
        using var older = new PasswordHasher(Options.Create(new PasswordOptions { HashMemoryKib = 7168, HashIterations = 5 }), TimeProvider.System);
        var hash = await older.HashAsync("the old parameters still verify", CancellationToken.None);

        Assert.Equal(new PasswordVerification(true, true), await _hasher.VerifyAsync("the old parameters still verify", hash, CancellationToken.None));
        Assert.Equal(new PasswordVerification(false, false), await _hasher.VerifyAsync("not the password at all", hash, CancellationToken.None));
        Assert.Equal(new PasswordVerification(true, false), await older.VerifyAsync("the old parameters still verify", hash, CancellationToken.None));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("$argon2i$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=16$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=2$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=99999999,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=19456,t=999,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=019456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2Rl$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTs!0")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0$")]
    public async Task AMalformedOrOutOfBoundsStoredHash_NeverMatches_AndNeverThrows(string? stored)
    {
        var result = await _hasher.VerifyAsync("correct horse battery staple", stored, CancellationToken.None);

        Assert.False(result.Matches);
        Assert.False(PasswordHasher.TryReadCost(stored, out _));
    }

    [Fact]
    public async Task WhenEverySlotIsBusyPastTheTimeout_TheCallerIsToldToTryAgain_AndTheSlotIsFreedAfter()
    {
        var time = new FakeTimeProvider();
        using var hasher = new PasswordHasher(Options.Create(new PasswordOptions { MaxConcurrentHashes = 1, HashQueueTimeout = TimeSpan.FromSeconds(5) }), time);
        using var release = new ManualResetEventSlim();
        var holder = hasher.RunAsync(release.Wait, CancellationToken.None); // holds the only slot until released

        var waiting = hasher.HashAsync("the second sign-in must wait", CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(waiting.IsCompleted, "the caller gave up before the queue timeout");
        time.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAsync<PasswordHashingBusyException>(() => waiting);
        release.Set();
        await holder;
        Assert.Matches(PhcPattern(), await hasher.HashAsync("the slot is free again", CancellationToken.None));
    }

    [Fact]
    public async Task AtMostTheConfiguredNumberOfHashesRunAtOnce()
    {
        using var hasher = new PasswordHasher(Options.Create(new PasswordOptions { MaxConcurrentHashes = 2 }), TimeProvider.System);
        using var release = new ManualResetEventSlim();
        var running = 0;
        var peak = 0;
        var work = Enumerable.Range(0, 8).Select(_ => hasher.RunAsync(() =>
        {
            InterlockedMax(ref peak, Interlocked.Increment(ref running));
            release.Wait();
            Interlocked.Decrement(ref running);
        }, CancellationToken.None)).ToList();

        // Two take the slots and block; the other six must wait for them.
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref running) == 2, TimeSpan.FromSeconds(30)), "two hashes never ran at once");
        Assert.All(work, t => Assert.False(t.IsCompleted));
        Assert.Equal(2, Volatile.Read(ref running));
        release.Set();
        await Task.WhenAll(work);

        Assert.Equal(2, peak);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    public void Dispose() => _hasher.Dispose();

    [GeneratedRegex(@"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")]
    private static partial Regex PhcPattern();
}
