using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;

namespace Safeguard.Tests.Keys;

public sealed class SigningKeyRingTests
{
    [Fact]
    public void EnsureKeys_CreatesOneActiveKeyOnAnEmptyStore()
    {
        using var fixture = new TokenFixture();

        var key = Assert.Single(fixture.Ring.Keys);
        Assert.Equal(KeyState.Active, fixture.Ring.GetState(key));
        Assert.Same(key, fixture.Ring.GetSigningKey());
        Assert.Equal(SigningAlgorithms.ES256, key.Algorithm);
    }

    [Fact]
    public async Task Rotation_PublishesTheNewKeyForThePropagationTimeBeforeItSigns()
    {
        using var fixture = new TokenFixture();
        var options = fixture.KeyOptions;
        var first = fixture.ActiveKey;

        // Not due yet: nothing happens.
        fixture.Time.Advance(options.RotationInterval - options.PropagationTime - TimeSpan.FromMinutes(1));
        await fixture.Ring.EnsureKeysAsync(CancellationToken.None);
        Assert.Single(fixture.Ring.Keys);

        // Due: the successor is created pending and published, but the first key still signs.
        fixture.Time.Advance(TimeSpan.FromMinutes(1));
        await fixture.Ring.EnsureKeysAsync(CancellationToken.None);
        var pending = fixture.Ring.Keys.Single(k => k.KeyId != first.KeyId);
        Assert.Equal(KeyState.Pending, fixture.Ring.GetState(pending));
        Assert.Contains(pending.KeyId, JwksKeyIds(fixture.Ring));
        Assert.Equal(first.KeyId, fixture.Ring.GetSigningKey()!.KeyId);
        var issued = fixture.Issuer_.Issue(TokenFixture.Request());
        Assert.Equal(first.KeyId, issued.KeyId);

        // A token signed by a pending key is not accepted: the key has not started signing.
        var pendingPrivate = ((ECDsaSecurityKey)pending.SigningCredentials!.Key).ECDsa;
        var forged = TokenFixture.SignWith(pendingPrivate, fixture.Header(kid: pending.KeyId), fixture.Payload());
        Assert.Equal(SafeguardErrorCodes.TokenKeyUnknown, fixture.Validator.Validate(forged).ErrorCode);

        // After the propagation time the successor signs, with no further maintenance call.
        fixture.Time.Advance(options.PropagationTime);
        Assert.Equal(pending.KeyId, fixture.Ring.GetSigningKey()!.KeyId);
        Assert.Equal(KeyState.Retired, fixture.Ring.GetState(fixture.Ring.Keys.Single(k => k.KeyId == first.KeyId)));
        Assert.Equal(pending.KeyId, fixture.Issuer_.Issue(TokenFixture.Request()).KeyId);
    }

    [Fact]
    public async Task Rotation_KeepsTheActiveKeySigning_AfterTheRingDisposesWhatItDropped()
    {
        // The signature provider a signer caches is keyed by the key's id; a rotation rewrites the active key's record
        // (its retirement time), so the ring must hand the same imported key to the new record, not dispose it.
        using var fixture = new TokenFixture();
        fixture.Ring.DroppedKeyGrace = TimeSpan.Zero;
        var before = fixture.IssueToken();

        await fixture.Ring.RotateAsync(CancellationToken.None);
        await fixture.Ring.ReloadAsync(CancellationToken.None);
        await fixture.Ring.ReloadAsync(CancellationToken.None);
        var after = fixture.IssueToken();

        Assert.True(fixture.Validator.Validate(before).IsValid);
        Assert.True(fixture.Validator.Validate(after).IsValid);
        Assert.Equal(JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(before.Split('.')[0])).RootElement.GetProperty("kid").GetString(),
            JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(after.Split('.')[0])).RootElement.GetProperty("kid").GetString());
    }

    [Fact]
    public async Task RetiredKey_VerifiesUntilRetentionEndsThenIsRemoved()
    {
        using var fixture = new TokenFixture();
        var options = fixture.KeyOptions;
        var first = fixture.ActiveKey;
        var firstPrivate = fixture.ActivePrivateKey();
        await fixture.Ring.RotateAsync(CancellationToken.None);
        fixture.Time.Advance(options.PropagationTime - TimeSpan.FromMinutes(1));
        var lastTokenOfFirstKey = fixture.IssueToken();
        fixture.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotEqual(first.KeyId, fixture.ActiveKey.KeyId);

        // Retired: still verifying the tokens it signed, still published.
        Assert.True(fixture.Validator.Validate(lastTokenOfFirstKey).IsValid);
        Assert.Contains(first.KeyId, JwksKeyIds(fixture.Ring));

        // Just before retention ends it still verifies a token that is itself still valid.
        fixture.Time.Advance(options.RetentionDuration - TimeSpan.FromSeconds(1));
        var late = TokenFixture.SignWith(firstPrivate, fixture.Header(kid: first.KeyId), fixture.Payload());
        Assert.True(fixture.Validator.Validate(late).IsValid);

        // Retention over: removed from the JWKS and from verification, and purged from the store.
        fixture.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(first.KeyId, JwksKeyIds(fixture.Ring));
        var after = TokenFixture.SignWith(firstPrivate, fixture.Header(kid: first.KeyId), fixture.Payload());
        Assert.Equal(SafeguardErrorCodes.TokenKeyUnknown, fixture.Validator.Validate(after).ErrorCode);
        await fixture.Ring.EnsureKeysAsync(CancellationToken.None);
        Assert.DoesNotContain((await fixture.Store.GetAllAsync(CancellationToken.None)), k => k.KeyId == first.KeyId);
    }

    [Fact]
    public async Task Revoke_StopsTheKeyVerifyingAtOnceAndEmptiesTheCache()
    {
        using var fixture = new TokenFixture();
        var revoked = fixture.ActiveKey;
        var token = fixture.IssueToken();
        Assert.True(fixture.Validator.Validate(token).IsValid);
        Assert.Equal(1, fixture.Validator.CachedTokenCount);

        Assert.True(await fixture.Ring.RevokeAsync(revoked.KeyId, CancellationToken.None));

        Assert.Equal(0, fixture.Validator.CachedTokenCount);
        Assert.Equal(SafeguardErrorCodes.TokenKeyRevoked, fixture.Validator.Validate(token).ErrorCode);
        Assert.DoesNotContain(revoked.KeyId, JwksKeyIds(fixture.Ring));
        var replacement = fixture.Ring.GetSigningKey();
        Assert.NotNull(replacement);
        Assert.NotEqual(revoked.KeyId, replacement.KeyId);
        Assert.True(fixture.Validator.Validate(fixture.IssueToken()).IsValid);
    }

    [Fact]
    public async Task Revoke_OfTheActiveKeyPromotesThePublishedSuccessor()
    {
        using var fixture = new TokenFixture();
        var first = fixture.ActiveKey;
        var pending = await fixture.Ring.RotateAsync(CancellationToken.None);

        await fixture.Ring.RevokeAsync(first.KeyId, CancellationToken.None);

        Assert.Equal(pending.KeyId, fixture.Ring.GetSigningKey()!.KeyId);
    }

    [Fact]
    public async Task Revoke_OfThePendingKeyKeepsThePredecessorSigningAndPublishesANewSuccessor()
    {
        using var fixture = new TokenFixture();
        var first = fixture.ActiveKey;
        var pending = await fixture.Ring.RotateAsync(CancellationToken.None);

        await fixture.Ring.RevokeAsync(pending.KeyId, CancellationToken.None);
        fixture.Time.Advance(fixture.KeyOptions.PropagationTime);

        Assert.Equal(first.KeyId, fixture.Ring.GetSigningKey()!.KeyId);
        await fixture.Ring.RotateAsync(CancellationToken.None);
        Assert.Contains(fixture.Ring.Keys, k => fixture.Ring.GetState(k) == KeyState.Pending && k.KeyId != pending.KeyId);
    }

    [Fact]
    public async Task Revoke_ReturnsFalseForAnUnknownKey()
    {
        using var fixture = new TokenFixture();

        Assert.False(await fixture.Ring.RevokeAsync("no-such-key", CancellationToken.None));
    }

    [Fact]
    public async Task Ring_RaisesLifecycleEventsForTheAuditTrail()
    {
        using var fixture = new TokenFixture();
        var events = new List<(string KeyId, KeyState State, bool Created)>();
        fixture.Ring.LifecycleChanged += (_, e) => events.Add((e.KeyId, e.State, e.Created));
        var first = fixture.ActiveKey;

        var pending = await fixture.Ring.RotateAsync(CancellationToken.None);
        fixture.Time.Advance(fixture.KeyOptions.PropagationTime);
        _ = fixture.Ring.GetSigningKey();

        Assert.Contains((pending.KeyId, KeyState.Pending, true), events);
        Assert.Contains((pending.KeyId, KeyState.Active, false), events);
        Assert.Contains((first.KeyId, KeyState.Retired, false), events);
    }

    [Fact]
    public async Task Ring_KeepsVerifyingWhenALifecycleHandlerThrows()
    {
        using var fixture = new TokenFixture();
        fixture.Ring.LifecycleChanged += (_, _) => throw new InvalidOperationException("audit sink down");
        await fixture.Ring.RotateAsync(CancellationToken.None);
        fixture.Time.Advance(fixture.KeyOptions.PropagationTime - TimeSpan.FromMinutes(1));
        var token = fixture.IssueToken();

        // The transition (and its throwing handlers) happens inside the next lookup.
        fixture.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.True(fixture.Validator.Validate(token).IsValid);
        Assert.NotNull(fixture.Ring.GetSigningKey());
        Assert.True(fixture.Validator.Validate(fixture.IssueToken()).IsValid);
    }

    [Fact]
    public async Task Ring_ReloadsItsKeysFromAFileStore()
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-keys-");
        try
        {
            using var fixture = new TokenFixture();
            var store = new FileSigningKeyStore(directory.FullName);
            using var ring = new SigningKeyRing(store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);
            await ring.EnsureKeysAsync(CancellationToken.None);
            var kid = ring.GetSigningKey()!.KeyId;

            using var reopened = new SigningKeyRing(new FileSigningKeyStore(directory.FullName), fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);
            await reopened.EnsureKeysAsync(CancellationToken.None);

            Assert.Equal(kid, reopened.GetSigningKey()!.KeyId);
            Assert.True(reopened.GetSigningKey()!.HasPrivateKey);
            var file = Path.Combine(directory.FullName, kid + ".json");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(SigningAlgorithms.ES256)]
    [InlineData(SigningAlgorithms.ES384)]
    [InlineData(SigningAlgorithms.PS256)]
    [InlineData(SigningAlgorithms.RS256)]
    public void Jwks_PublishesPublicParametersOnly(string algorithm)
    {
        using var fixture = new TokenFixture(algorithm);

        using var jwks = JsonDocument.Parse(fixture.Ring.GetJwks());
        var key = Assert.Single(jwks.RootElement.GetProperty("keys").EnumerateArray());

        Assert.Equal(fixture.ActiveKey.KeyId, key.GetProperty("kid").GetString());
        Assert.Equal(algorithm, key.GetProperty("alg").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        foreach (var privateMember in new[] { "d", "p", "q", "dp", "dq", "qi", "oth", "k" })
        {
            Assert.False(key.TryGetProperty(privateMember, out _), $"JWKS carries private member '{privateMember}'.");
        }

        // The kid is the RFC 7638 thumbprint of exactly these public members.
        var expected = key.GetProperty("kty").GetString() == "EC"
            ? KeyIds.EcThumbprint(key.GetProperty("crv").GetString()!, System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("x").GetString()), System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("y").GetString()))
            : KeyIds.RsaThumbprint(System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("e").GetString()), System.Buffers.Text.Base64Url.DecodeFromChars(key.GetProperty("n").GetString()));
        Assert.Equal(expected, fixture.ActiveKey.KeyId);
    }

    [Fact]
    public void Thumbprint_MatchesTheRfc7638Example()
    {
        // RFC 7638 section 3.1.
        const string n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

        var thumbprint = KeyIds.RsaThumbprint(System.Buffers.Text.Base64Url.DecodeFromChars("AQAB"), System.Buffers.Text.Base64Url.DecodeFromChars(n));

        Assert.Equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", thumbprint);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("HS256")]
    [InlineData("es256")]
    public void Options_RefuseAnUnsupportedAlgorithm(string algorithm)
    {
        var result = new KeyRingOptionsValidator().Validate(null, new KeyRingOptions { Algorithm = algorithm });

        Assert.True(result.Failed);
    }

    [Fact]
    public void Options_RefuseRetentionShorterThanTheLongestTokenPlusSkew()
    {
        var result = new KeyRingOptionsValidator().Validate(null, new KeyRingOptions { RetentionDuration = TimeSpan.FromMinutes(10) });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures, f => f.Contains("RetentionDuration", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_ReportEveryErrorNotOnlyTheFirst()
    {
        var result = new KeyRingOptionsValidator().Validate(null, new KeyRingOptions
        {
            Algorithm = "none",
            PropagationTime = TimeSpan.Zero,
            RsaKeySize = 1024,
        });

        Assert.Equal(3, result.Failures!.Count());
    }

    [Fact]
    public void Options_DefaultsAreValid()
    {
        var options = new KeyRingOptions();

        Assert.True(new KeyRingOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(TimeSpan.FromDays(30), options.RotationInterval);
        Assert.Equal(TimeSpan.FromHours(1), options.PropagationTime);
        Assert.Equal(TimeSpan.FromMinutes(20), options.RetentionDuration);
    }

    private static string[] JwksKeyIds(SigningKeyRing ring)
    {
        using var jwks = JsonDocument.Parse(ring.GetJwks());
        return [.. jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }
}
