using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Keys;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed class EnrolmentTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private readonly InMemoryEnrolmentLinkStore _links = new();
    private readonly InMemoryAuthenticatorStore _authenticators = new();
    private readonly AesGcmKeyProtector _protector = new(RandomNumberGenerator.GetBytes(32));
    private readonly User _user = new() { Subject = UserSubjects.New(), Username = "jsmith" };
    private readonly EnrolmentLinks _service;
    private readonly TotpAuthenticators _totp;

    public EnrolmentTests()
    {
        _service = new EnrolmentLinks(_links, Options.Create(new SignInOptions { EnrolmentLinkLifetime = TimeSpan.FromHours(2) }), _time);
        _totp = new TotpAuthenticators(_authenticators, _protector, Options.Create(new MfaOptions()), _time);
    }

    [Fact]
    public async Task ALink_WorksOnce_AndOnlyItsHashIsStored()
    {
        var (link, code) = await _service.IssueAsync(_user, CancellationToken.None);

        Assert.True(EnrolmentLinks.IsWellFormed(code));
        Assert.Equal(32, link.Hash.Length);
        Assert.False(link.Hash.AsSpan().SequenceEqual(System.Text.Encoding.ASCII.GetBytes(code).AsSpan(0, 32)));
        Assert.Equal(_user.Subject, (await _service.FindLiveAsync(code, CancellationToken.None))?.Subject);
        Assert.True(await _service.UseAsync(code, CancellationToken.None));
        Assert.False(await _service.UseAsync(code, CancellationToken.None));
        Assert.Null(await _service.FindLiveAsync(code, CancellationToken.None));
    }

    [Fact]
    public async Task ALink_StopsWorkingWhenItExpires()
    {
        var (_, code) = await _service.IssueAsync(_user, CancellationToken.None);

        _time.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));
        Assert.NotNull(await _service.FindLiveAsync(code, CancellationToken.None));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await _service.FindLiveAsync(code, CancellationToken.None));
        Assert.False(await _service.UseAsync(code, CancellationToken.None));
    }

    [Fact]
    public async Task ANewLink_ReplacesTheUnspentOne()
    {
        var (_, first) = await _service.IssueAsync(_user, CancellationToken.None);
        var (_, second) = await _service.IssueAsync(_user, CancellationToken.None);

        Assert.NotEqual(first, second);
        Assert.Null(await _service.FindLiveAsync(first, CancellationToken.None));
        Assert.NotNull(await _service.FindLiveAsync(second, CancellationToken.None));
        Assert.Equal(1, _links.Count);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task MalformedCodes_FindNothing(string? code)
    {
        await _service.IssueAsync(_user, CancellationToken.None);

        Assert.Null(await _service.FindLiveAsync(code, CancellationToken.None));
        Assert.False(await _service.UseAsync(code, CancellationToken.None));
    }

    [Fact]
    public void TheUrl_IsOnTheIssuer_WithTheCodeInTheQuery()
    {
        Assert.Equal("https://auth.example.org/enrol?code=abc_-", EnrolmentLinks.UrlFor("https://auth.example.org/", "abc_-"));
    }

    [Fact]
    public void LinkLifetime_OutsideFiveMinutesToSevenDays_IsRefused()
    {
        var validator = new SignInOptionsValidator();
        Assert.True(validator.Validate(null, new SignInOptions { EnrolmentLinkLifetime = TimeSpan.FromMinutes(4) }).Failed);
        Assert.True(validator.Validate(null, new SignInOptions { EnrolmentLinkLifetime = TimeSpan.FromDays(8) }).Failed);
        Assert.True(validator.Validate(null, new SignInOptions { EnrolmentLinkLifetime = TimeSpan.FromDays(7) }).Succeeded);
    }

    [Fact]
    public async Task ConfirmingATotpEnrolment_RecordsTheStep_SoTheConfirmingCodeCannotSignIn()
    {
        var enrolment = _totp.Create(_user);
        var reopened = _totp.Reopen(_user, enrolment.Authenticator);
        Assert.Equal(enrolment.Secret, reopened.Secret);
        Assert.Equal(enrolment.ProvisioningUri, reopened.ProvisioningUri);

        var code = _totp.ComputeCode(enrolment.Authenticator, _time.GetUtcNow());
        Assert.Null(_totp.Confirm(enrolment.Authenticator, code == "000000" ? "111111" : "000000"));
        Assert.Null(_totp.Confirm(enrolment.Authenticator, "12345"));
        var confirmed = _totp.Confirm(enrolment.Authenticator, code);
        Assert.NotNull(confirmed);
        Assert.True(confirmed.Counter > 0);
        await _authenticators.AddAsync([confirmed], CancellationToken.None);

        Assert.Equal(MfaOutcome.Replayed, (await _totp.VerifyAsync(_user.Subject, code, CancellationToken.None)).Outcome);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(MfaOutcome.Accepted, (await _totp.VerifyAsync(_user.Subject, _totp.ComputeCode(confirmed, _time.GetUtcNow()), CancellationToken.None)).Outcome);
    }

    [Fact]
    public void Reopen_RefusesAnotherUsersEnrolment()
    {
        var enrolment = _totp.Create(_user);
        var other = _user with { Subject = UserSubjects.New() };

        Assert.Throws<ArgumentException>(() => _totp.Reopen(other, enrolment.Authenticator));
    }

    public void Dispose() => _protector.Dispose();
}
