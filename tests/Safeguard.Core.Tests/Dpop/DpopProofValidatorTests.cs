using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Dpop;
using Safeguard.Keys;

namespace Safeguard.Core.Tests.Dpop;

/// <summary>The DPoP proof validator and server nonces on their own, with a fake clock (the server tests drive them over TLS).</summary>
public sealed class DpopProofValidatorTests : IDisposable
{
    private static readonly Uri Target = new("https://auth.example.org/token");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly MemoryReplayCache _replay = new();
    private readonly DpopNonces _nonces;
    private readonly DpopProofValidator _validator;

    public DpopProofValidatorTests()
    {
        _nonces = new DpopNonces(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(5), _time);
        _validator = new DpopProofValidator(_replay, _nonces, Options.Create(new DpopOptions()), _time);
    }

    public void Dispose() => _nonces.Dispose();

    [Fact]
    public async Task Es384AndPs256AndRs256Proofs_Verify_AndTheThumbprintIsRfc7638()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        var ec = p384.ExportParameters(false);
        var rsaPublic = rsa.ExportParameters(false);

        var es384 = await _validator.ValidateAsync(Sign(p384, "ES384", Payload()), "POST", Target, null, CancellationToken.None);
        var ps256 = await _validator.ValidateAsync(Sign(rsa, "PS256", Payload()), "POST", Target, null, CancellationToken.None);
        var rs256 = await _validator.ValidateAsync(Sign(rsa, "RS256", Payload()), "POST", Target, null, CancellationToken.None);

        Assert.True(es384.Succeeded, es384.Description);
        Assert.Equal(KeyIds.EcThumbprint("P-384", ec.Q.X, ec.Q.Y), es384.JwkThumbprint);
        Assert.True(ps256.Succeeded, ps256.Description);
        Assert.True(rs256.Succeeded, rs256.Description);
        Assert.Equal(KeyIds.RsaThumbprint(rsaPublic.Exponent, rsaPublic.Modulus), rs256.JwkThumbprint);
    }

    [Fact]
    public async Task WeakRsaKey_IsRefused()
    {
        using var rsa = RSA.Create(1024);
        var result = await _validator.ValidateAsync(Sign(rsa, "RS256", Payload()), "POST", Target, null, CancellationToken.None);
        Assert.Equal(SafeguardErrorCodes.DpopKeyInvalid, result.ErrorCode);
    }

    [Fact]
    public async Task RsaUpTo4096Bits_Verifies()
    {
        using var rsa = RSA.Create(4096);
        var result = await _validator.ValidateAsync(Sign(rsa, "PS256", Payload()), "POST", Target, null, CancellationToken.None);
        Assert.True(result.Succeeded, result.Description);
    }

    /// <summary>Anyone can send a proof: a huge modulus or an odd exponent is refused before any signature is checked.</summary>
    [Theory]
    [InlineData(8192, "AQAB")]
    [InlineData(4104, "AQAB")]
    [InlineData(2048, "Aw")]
    [InlineData(2048, "AQAD")]
    public async Task RsaKeysBeyond4096BitsOrWithAnotherExponent_AreRefusedBeforeTheSignature(int bits, string exponent)
    {
        var modulus = RandomNumberGenerator.GetBytes(bits / 8);
        modulus[0] |= 0x80;
        modulus[^1] |= 1;
        var header = new JsonObject
        {
            ["typ"] = "dpop+jwt",
            ["alg"] = "RS256",
            ["jwk"] = new JsonObject { ["kty"] = "RSA", ["n"] = Base64Url.EncodeToString(modulus), ["e"] = exponent },
        };
        var proof = Segment(header) + "." + Segment(Payload()) + "." + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bits / 8));

        var result = await _validator.ValidateAsync(proof, "POST", Target, null, CancellationToken.None);

        Assert.Equal(SafeguardErrorCodes.DpopKeyInvalid, result.ErrorCode);
        Assert.Contains("4096 bits with exponent 65537", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlgorithmAndKeyTypeMismatch_IsRefused()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var header = new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = "ES384", ["jwk"] = Jwk(ec) };
        var result = await _validator.ValidateAsync(Raw(header, Payload(), ec), "POST", Target, null, CancellationToken.None);
        Assert.Equal(SafeguardErrorCodes.DpopKeyInvalid, result.ErrorCode);
    }

    [Fact]
    public void Nonce_IsValidForItsStepAndTheNext_ThenExpires_AndOnlyUnderItsKey()
    {
        var nonce = _nonces.Current();
        using var otherNonces = new DpopNonces(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(5), _time);

        Assert.True(_nonces.IsValid(nonce));
        Assert.False(otherNonces.IsValid(nonce));
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(_nonces.IsValid(nonce));
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(_nonces.IsValid(nonce));
        Assert.False(_nonces.IsValid(nonce[..^1] + (nonce[^1] == 'A' ? 'B' : 'A')));
        Assert.False(_nonces.IsValid(null));
        Assert.False(_nonces.IsValid("short"));
    }

    [Fact]
    public async Task ReplayedJti_IsRefused_ButTheSameJtiUnderAnotherKeyIsNot()
    {
        using var one = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var two = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var payload = Payload(jti: "same-jti");

        Assert.True((await _validator.ValidateAsync(Sign(one, "ES256", payload), "POST", Target, null, CancellationToken.None)).Succeeded);
        Assert.Equal(SafeguardErrorCodes.DpopReplayed, (await _validator.ValidateAsync(Sign(one, "ES256", payload), "POST", Target, null, CancellationToken.None)).ErrorCode);
        Assert.True((await _validator.ValidateAsync(Sign(two, "ES256", payload), "POST", Target, null, CancellationToken.None)).Succeeded);
        // Kept past the proof's own window (60 s old, 10 s ahead) by 5 minutes, so another node's clock cannot reopen it; and no longer.
        Assert.All(_replay.Entries.Values, expiry => Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(70) + TimeSpan.FromMinutes(5), expiry));
    }

    [Fact]
    public async Task Ath_MustBeTheHashOfThePresentedAccessToken()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        const string token = "eyJ.access.token";
        var ath = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

        var wrongMethod = await _validator.ValidateAsync(Sign(key, "ES256", Payload(ath: ath)), "GET", Target, token, CancellationToken.None);
        var missing = await _validator.ValidateAsync(Sign(key, "ES256", Payload(htm: "GET")), "GET", Target, token, CancellationToken.None);
        var other = await _validator.ValidateAsync(Sign(key, "ES256", Payload(htm: "GET", ath: ath)), "GET", Target, token + "x", CancellationToken.None);

        Assert.Equal(SafeguardErrorCodes.DpopTargetMismatch, wrongMethod.ErrorCode);
        Assert.Equal(SafeguardErrorCodes.DpopAccessTokenHashInvalid, missing.ErrorCode);
        Assert.Equal(SafeguardErrorCodes.DpopAccessTokenHashInvalid, other.ErrorCode);
        Assert.True((await _validator.ValidateAsync(Sign(key, "ES256", Payload(htm: "GET", ath: ath)), "GET", Target, token, CancellationToken.None)).Succeeded);
    }

    [Theory]
    [InlineData("https://auth.example.org/token?x=1", true)]
    [InlineData("https://AUTH.example.org:443/token", true)]
    [InlineData("https://auth.example.org/token/", false)]
    [InlineData("http://auth.example.org/token", false)]
    [InlineData("https://auth.example.org:8443/token", false)]
    public async Task Htu_ComparesSchemeHostPortAndPath_IgnoringQuery(string htu, bool accepted)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var result = await _validator.ValidateAsync(Sign(key, "ES256", Payload(htu: htu)), "POST", Target, null, CancellationToken.None);
        Assert.Equal(accepted, result.Succeeded);
    }

    private JsonObject Payload(string? jti = null, string htm = "POST", string? htu = null, string? ath = null)
    {
        var payload = new JsonObject
        {
            ["jti"] = jti ?? Guid.NewGuid().ToString(),
            ["htm"] = htm,
            ["htu"] = htu ?? Target.ToString(),
            ["iat"] = _time.GetUtcNow().ToUnixTimeSeconds(),
            ["nonce"] = _nonces.Current(),
        };
        if (ath is not null)
        {
            payload["ath"] = ath;
        }

        return payload;
    }

    private static JsonObject Jwk(ECDsa key)
    {
        var p = key.ExportParameters(false);
        return new JsonObject { ["kty"] = "EC", ["crv"] = p.Q.X!.Length == 32 ? "P-256" : "P-384", ["x"] = Base64Url.EncodeToString(p.Q.X), ["y"] = Base64Url.EncodeToString(p.Q.Y) };
    }

    private static string Sign(ECDsa key, string alg, JsonObject payload) =>
        Raw(new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = alg, ["jwk"] = Jwk(key) }, payload, key);

    private static string Raw(JsonObject header, JsonObject payload, ECDsa key)
    {
        var input = Segment(header) + "." + Segment(payload);
        var hash = key.KeySize == 384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256;
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), hash));
    }

    private static string Sign(RSA key, string alg, JsonObject payload)
    {
        var p = key.ExportParameters(false);
        var header = new JsonObject
        {
            ["typ"] = "dpop+jwt",
            ["alg"] = alg,
            ["jwk"] = new JsonObject { ["kty"] = "RSA", ["n"] = Base64Url.EncodeToString(p.Modulus), ["e"] = Base64Url.EncodeToString(p.Exponent) },
        };
        var input = Segment(header) + "." + Segment(payload);
        var padding = alg == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, padding));
    }

    private static string Segment(JsonNode node) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(node.ToJsonString()));

    private sealed class MemoryReplayCache : IReplayCache
    {
        public ConcurrentDictionary<string, DateTimeOffset> Entries { get; } = new(StringComparer.Ordinal);

        public ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
            ValueTask.FromResult(Entries.TryAdd(purpose + "|" + value, expiresAt));

        public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
            Task.FromResult(Entries.Count(e => e.Value < before && Entries.TryRemove(e.Key, out _)));
    }
}
