using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Clients;
using Safeguard.Dpop;

namespace Safeguard.Tests.Clients;

/// <summary>RFC 7523 client assertions: what the validator checks after the JWS policy (the attack table covers the policy).</summary>
public sealed class ClientAssertionValidatorTests : IDisposable
{
    private const string Issuer = "https://auth.example.test";
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly Cache _replay = new();
    private readonly ClientAssertionValidator _validator;
    private readonly Client _client;

    public ClientAssertionValidatorTests()
    {
        _validator = new ClientAssertionValidator(_replay, new FakeTimeProvider(Now), NullLogger<ClientAssertionValidator>.Instance);
        var q = _key.ExportParameters(false).Q;
        _client = new Client
        {
            ClientId = "lab",
            AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt,
            Jwks = $"{{\"keys\":[{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(q.X)}\",\"y\":\"{Base64Url.EncodeToString(q.Y)}\"}}]}}",
            CreatedAt = Now,
            UpdatedAt = Now,
        };
    }

    [Fact]
    public async Task AValidAssertion_IsAcceptedOnce_AndRememberedFiveMinutesPastItsWindow()
    {
        var assertion = Assertion($"\"exp\":{Now.AddMinutes(2).ToUnixTimeSeconds()}");

        var first = await _validator.ConsumeAsync(_client, _validator.Validate(assertion, _client, [Issuer]), CancellationToken.None);
        var again = await _validator.ConsumeAsync(_client, _validator.Validate(assertion, _client, [Issuer]), CancellationToken.None);

        Assert.True(first.IsValid, first.Description);
        Assert.Equal(SafeguardErrorCodes.ClientAssertionReplayed, again.ErrorCode);
        // exp + 60 s of skew + the 5-minute margin for other nodes' clocks.
        Assert.Equal(Now.AddMinutes(2) + TimeSpan.FromSeconds(60) + TimeSpan.FromMinutes(5), Assert.Single(_replay.Entries.Values));
    }

    [Theory]
    [InlineData("\"exp\":1795000000", "expired")]
    [InlineData("\"exp\":9999999999", "lives longer than 5 minutes")]
    [InlineData("\"nbf\":9999999999", "not yet valid")]
    public void AnAssertionOutsideItsTimeWindow_IsRefused(string times, string why)
    {
        var claims = times.Contains("nbf", StringComparison.Ordinal) ? $"\"exp\":{Now.AddMinutes(1).ToUnixTimeSeconds()},{times}" : times;

        var result = _validator.Validate(Assertion(claims), _client, [Issuer]);

        Assert.True(result.ErrorCode == SafeguardErrorCodes.ClientAssertionInvalid, why);
    }

    [Fact]
    public void AnAssertionForAnotherAudience_OrNamingAnotherClient_IsRefused()
    {
        var exp = $"\"exp\":{Now.AddMinutes(1).ToUnixTimeSeconds()}";

        Assert.False(_validator.Validate(Assertion(exp, aud: Issuer + "/token"), _client, [Issuer]).IsValid);
        Assert.False(_validator.Validate(Assertion(exp, aud: $"[\"{Issuer}\",\"https://other.example\"]", rawAud: true), _client, [Issuer]).IsValid);
        Assert.False(_validator.Validate(Assertion(exp, sub: "other"), _client, [Issuer]).IsValid);
        Assert.True(_validator.Validate(Assertion(exp, aud: $"[\"{Issuer}\"]", rawAud: true), _client, [Issuer]).IsValid);
    }

    public void Dispose() => _key.Dispose();

    private string Assertion(string times, string aud = Issuer, bool rawAud = false, string sub = "lab")
    {
        var header = "{\"alg\":\"ES256\",\"typ\":\"client-authentication+jwt\"}";
        var audience = rawAud ? aud : $"\"{aud}\"";
        var payload = $"{{\"iss\":\"lab\",\"sub\":\"{sub}\",\"aud\":{audience},{times},\"jti\":\"{Guid.NewGuid():N}\"}}";
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        return input + "." + Base64Url.EncodeToString(_key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    private sealed class Cache : IReplayCache
    {
        public ConcurrentDictionary<string, DateTimeOffset> Entries { get; } = new(StringComparer.Ordinal);

        public ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Entries.TryAdd(purpose + "|" + value, expiresAt));

        public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
