using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Keys;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed class SecondFactorTests : IDisposable
{
    private static readonly byte[] Rfc6238Seed = Encoding.ASCII.GetBytes("12345678901234567890");

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly InMemoryAuthenticatorStore _store = new();
    private readonly AesGcmKeyProtector _protector = new(RandomNumberGenerator.GetBytes(32));
    private readonly TotpAuthenticators _totp;
    private readonly RecoveryCodes _recovery;
    private readonly User _user = new() { Subject = UserSubjects.New(), Username = "jsmith" };

    public SecondFactorTests()
    {
        _totp = new TotpAuthenticators(_store, _protector, Options.Create(new MfaOptions()), _time);
        _recovery = new RecoveryCodes(_store, _time);
    }

    [Theory] // RFC 6238 appendix B, SHA-1, the last six of its eight digits
    [InlineData(59, "287082")]
    [InlineData(1111111109, "081804")]
    [InlineData(1111111111, "050471")]
    [InlineData(1234567890, "005924")]
    [InlineData(2000000000, "279037")]
    public async Task Rfc6238TestVectors_AreAccepted(long unixSeconds, string code)
    {
        _time.AdjustTime(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));
        await _store.AddAsync([_totp.Create(_user, Rfc6238Seed).Authenticator], CancellationToken.None);

        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, code, CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task ACodeIsAcceptedOnce_ThenRefusedAsAReplay_AsIsAnyEarlierCode()
    {
        var totp = await EnrolAsync();
        var previous = _totp.ComputeCode(totp, _time.GetUtcNow().AddSeconds(-30));
        var current = _totp.ComputeCode(totp, _time.GetUtcNow());

        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, current, CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Replayed, (await _totp.VerifyAsync(_user.Subject, current, CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Replayed, (await _totp.VerifyAsync(_user.Subject, previous, CancellationToken.None)).Outcome);

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, _time.GetUtcNow()), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task OneStepOfDriftEitherWay_IsAccepted_TwoAreNot()
    {
        var totp = await EnrolAsync();
        var now = _time.GetUtcNow();

        Assert.Equal(MfaOutcome.Invalid, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, now.AddSeconds(-60)), CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, now.AddSeconds(-30)), CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, now.AddSeconds(30)), CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Invalid, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, now.AddSeconds(60)), CancellationToken.None)).Outcome);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("12345")]
    [InlineData("1234567")]
    [InlineData("12345a")]
    [InlineData("１２３４５６")] // fullwidth digits are not ASCII digits
    public async Task MalformedCodes_AreInvalid_AndCountAsFailures(string? code)
    {
        await EnrolAsync();

        var result = await _totp.VerifyAsync(_user.Subject, code, CancellationToken.None);

        Assert.Equal(MfaOutcome.Invalid, result.Outcome);
        Assert.Equal(1, result.Failures);
    }

    [Fact]
    public async Task AfterOneHundredConsecutiveFailures_TheFactorIsRefused_EvenWithTheRightCode()
    {
        var totp = await EnrolAsync();
        MfaVerification last = default;
        for (var i = 0; i < MfaVerification.MaxConsecutiveFailures; i++)
        {
            last = await _totp.VerifyAsync(_user.Subject, "000000" == _totp.ComputeCode(totp, _time.GetUtcNow()) ? "111111" : "000000", CancellationToken.None);
        }

        Assert.Equal(MfaOutcome.Disabled, last.Outcome);
        Assert.Equal(100, last.Failures);
        Assert.Equal(MfaOutcome.Disabled, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, _time.GetUtcNow()), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task ASuccessResetsTheFailureCount()
    {
        var totp = await EnrolAsync();
        await _totp.VerifyAsync(_user.Subject, "not a code", CancellationToken.None);
        await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(totp, _time.GetUtcNow()), CancellationToken.None);

        Assert.Equal(0, Assert.Single(await _store.GetForUserAsync(_user.Subject, CancellationToken.None)).Failures);
    }

    [Fact]
    public async Task AUserWithoutTheFactor_IsNotEnrolled() =>
        Assert.Equal(MfaOutcome.NotEnrolled, (await _totp.VerifyAsync(_user.Subject, "123456", CancellationToken.None)).Outcome);

    [Fact]
    public void TheSeedIsSealedAndBoundToItsUser_AndTheUriIsWhatAuthenticatorAppsRead()
    {
        var enrollment = _totp.Create(_user, Rfc6238Seed);
        var moved = enrollment.Authenticator with { Subject = UserSubjects.New() };

        Assert.False(enrollment.Authenticator.ProtectedSecret.AsSpan().IndexOf(Rfc6238Seed) >= 0);
        Assert.Throws<KeyProtectionException>(() => _totp.ComputeCode(moved, _time.GetUtcNow()));
        Assert.Equal("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", enrollment.Secret);
        Assert.StartsWith("otpauth://totp/Safeguard:jsmith?", enrollment.ProvisioningUri, StringComparison.Ordinal);
        Assert.Contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", enrollment.ProvisioningUri, StringComparison.Ordinal);
        Assert.Contains("issuer=Safeguard", enrollment.ProvisioningUri, StringComparison.Ordinal);
        Assert.Contains("digits=6", enrollment.ProvisioningUri, StringComparison.Ordinal);
        Assert.Contains("period=30", enrollment.ProvisioningUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TenRecoveryCodes_EachWorksOnce_StoredOnlyAsHashes()
    {
        var (codes, records) = _recovery.Create(_user);
        await _store.AddAsync(records, CancellationToken.None);

        Assert.Equal(10, codes.Count);
        Assert.Equal(10, codes.Distinct(StringComparer.Ordinal).Count());
        Assert.All(codes, c => Assert.Matches("^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$", c));
        Assert.All(records, r => Assert.Null(r.ProtectedSecret));
        foreach (var code in codes)
        {
            Assert.Equal(MfaOutcome.Accepted, (await _recovery.VerifyAsync(_user.Subject, code, CancellationToken.None)).Outcome);
            Assert.Equal(MfaOutcome.Replayed, (await _recovery.VerifyAsync(_user.Subject, code, CancellationToken.None)).Outcome);
        }
    }

    [Fact]
    public async Task RecoveryCodes_IgnoreCaseSpacesAndDashes_AndReadOAsZeroAndIOrLAsOne()
    {
        var (codes, records) = _recovery.Create(_user);
        await _store.AddAsync(records, CancellationToken.None);
        var typed = codes[0].Replace("-", " ", StringComparison.Ordinal).ToLowerInvariant().Replace('0', 'o').Replace('1', 'l');

        Assert.Equal(MfaOutcome.Accepted, (await _recovery.VerifyAsync(_user.Subject, typed, CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Invalid, (await _recovery.VerifyAsync(_user.Subject, codes[1][..^1] + (codes[1][^1] == 'Z' ? 'Y' : 'Z'), CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Invalid, (await _recovery.VerifyAsync(_user.Subject, codes[1] + "X", CancellationToken.None)).Outcome);
        Assert.Equal(MfaOutcome.Invalid, (await _recovery.VerifyAsync(_user.Subject, "U" + codes[1][1..], CancellationToken.None)).Outcome);
    }

    [Fact]
    public void MfaOptions_OutOfRange_AreRefused()
    {
        var result = new MfaOptionsValidator().Validate(null, new MfaOptions { TotpIssuer = "Bad:Issuer", TotpDriftSteps = 5 });

        Assert.Equal(2, result.Failures!.Count());
    }

    public void Dispose() => _protector.Dispose();

    private async Task<Authenticator> EnrolAsync()
    {
        var enrollment = _totp.Create(_user);
        await _store.AddAsync([enrollment.Authenticator], CancellationToken.None);
        return enrollment.Authenticator;
    }
}
