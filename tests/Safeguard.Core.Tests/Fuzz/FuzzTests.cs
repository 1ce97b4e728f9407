using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Tokens;

namespace Safeguard.Tests.Fuzz;

/// <summary>
/// Property-based fuzzing (CsCheck) of what reads hostile bytes: the access-token validator, the DPoP proof validator,
/// client assertions and the audit event parser (the form parser is in the server tests). For every variant of a valid
/// input (<see cref="Mutations"/>): no exception escapes, no input hangs or allocates beyond a bound, and no variant is
/// accepted unless it is the original. ./test.sh runs 2,000 inputs per target; set SAFEGUARD_FUZZ_ITERATIONS for a long
/// run (docs/security.md). A failure prints the shrunk input and the seed that replays it.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class FuzzTests : IDisposable
{
    private const string Issuer = "https://auth.example.test";
    private static readonly Uri Target = new("https://auth.example.test/token");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly TokenFixture _tokens = new();
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly DpopNonces _nonces;

    public FuzzTests() => _nonces = new DpopNonces(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(5), _time);

    public void Dispose()
    {
        _tokens.Dispose();
        _key.Dispose();
        _nonces.Dispose();
    }

    [Fact]
    public void AccessTokenValidator_AcceptsNoVariantButTheOriginal()
    {
        var validator = new AccessTokenValidator(_tokens.Ring, Options.Create(new AccessTokenValidationOptions { Issuer = TokenFixture.Issuer, Audiences = { TokenFixture.Audience }, CacheVerifiedTokens = false }),
            _tokens.Time, NullLogger<AccessTokenValidator>.Instance, _tokens.Revocations);
        var original = _tokens.IssueToken();
        Assert.True(validator.Validate(original).IsValid);

        Mutations.Of(original).Sample(
            token => !Mutations.Bounded(() => validator.Validate(token)).IsValid || token == original,
            iter: Mutations.Iterations, print: Mutations.Print);
    }

    [Fact]
    public void DpopProofValidator_AcceptsNoVariantButTheOriginal()
    {
        var validator = new DpopProofValidator(new NoReplay(), _nonces, Options.Create(new DpopOptions()), _time);
        var original = Proof();
        Assert.True(validator.Verify(original, "POST", Target, null).Result.Succeeded);

        Mutations.Of(original).Sample(
            proof => !Mutations.Bounded(() => validator.Verify(proof, "POST", Target, null)).Result.Succeeded || proof == original,
            iter: Mutations.Iterations, print: Mutations.Print);
    }

    [Fact]
    public void ClientAssertions_AcceptNoVariantButTheOriginal()
    {
        var validator = new ClientAssertionValidator(new NoReplay(), _time, NullLogger<ClientAssertionValidator>.Instance);
        var q = _key.ExportParameters(false).Q;
        var client = new Client
        {
            ClientId = "lab",
            AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt,
            Jwks = $"{{\"keys\":[{{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\",\"x\":\"{Base64Url.EncodeToString(q.X)}\",\"y\":\"{Base64Url.EncodeToString(q.Y)}\"}}]}}",
            CreatedAt = _time.GetUtcNow(),
            UpdatedAt = _time.GetUtcNow(),
        };
        var original = Sign(new JsonObject { ["alg"] = "ES256", ["typ"] = "client-authentication+jwt", ["kid"] = "k1" }, new JsonObject
        {
            ["iss"] = "lab",
            ["sub"] = "lab",
            ["aud"] = Issuer,
            ["exp"] = _time.GetUtcNow().AddMinutes(2).ToUnixTimeSeconds(),
            ["jti"] = Guid.NewGuid().ToString("N"),
        });
        Assert.True(validator.Validate(original, client, [Issuer]).IsValid);

        Mutations.Of(original).Sample(
            assertion => !Mutations.Bounded(() => validator.Validate(assertion, client, [Issuer])).IsValid || assertion == original,
            iter: Mutations.Iterations, print: Mutations.Print);
    }

    /// <summary>
    /// The audit event parser reads what verify, export and search read. Whatever it accepts is stable: written back
    /// canonically and read again, it is the same event.
    /// </summary>
    [Fact]
    public void AuditEventParser_NeverThrows_AndWhatItAcceptsRoundTrips()
    {
        var original = AuditCanonicalJson.ToBytes(new AuditEvent
        {
            EventId = "01a22e73-7c66-76a2-8401-55b628f43a85",
            Time = new DateTimeOffset(2026, 11, 28, 12, 0, 0, 123, TimeSpan.Zero),
            Type = AuditEventType.PhiAccessAllowed,
            Outcome = AuditOutcome.Success,
            Action = AuditAction.Read,
            Subject = "user-7f3a",
            ClientId = "ehr-portal",
            Amr = ["pwd", "otp"],
            TokenId = "jti-1",
            ResourceType = "Observation",
            ResourceId = "obs-1",
            PatientId = "patient-9",
            SourceIp = "10.1.2.3",
            HttpStatus = 200,
            Count = 3,
            CorrelationId = "corr-1",
            Changes = [new AuditChange("enabled", "true", "false")],
            Chain = "node-a",
            Sequence = 42,
        });
        Assert.True(AuditEventParser.TryParse(original, out _));

        Mutations.OfBytes(original).Sample(body => Mutations.Bounded(() =>
        {
            if (!AuditEventParser.TryParse(body, out var parsed))
            {
                return true;
            }

            var canonical = AuditCanonicalJson.ToBytes(parsed);
            return AuditEventParser.TryParse(canonical, out var again) && AuditCanonicalJson.ToBytes(again).AsSpan().SequenceEqual(canonical);
        }), iter: Mutations.Iterations, print: body => Mutations.Print(Encoding.UTF8.GetString(body)));
    }

    private string Proof()
    {
        var q = _key.ExportParameters(false).Q;
        return Sign(
            new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = "ES256", ["jwk"] = new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Base64Url.EncodeToString(q.X), ["y"] = Base64Url.EncodeToString(q.Y) } },
            new JsonObject { ["jti"] = Guid.NewGuid().ToString(), ["htm"] = "POST", ["htu"] = Target.ToString(), ["iat"] = _time.GetUtcNow().ToUnixTimeSeconds(), ["nonce"] = _nonces.Current() });
    }

    private string Sign(JsonObject header, JsonObject payload)
    {
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return input + "." + Base64Url.EncodeToString(_key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    /// <summary>The stateless checks are what is fuzzed; nothing is recorded.</summary>
    private sealed class NoReplay : IReplayCache
    {
        public ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken) => ValueTask.FromResult(true);

        public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
