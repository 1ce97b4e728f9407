namespace Safeguard.Keys;

/// <summary>
/// A signing key as an <see cref="ISigningKeyStore"/> keeps it. The private key is only ever present encrypted
/// (<see cref="ProtectedPrivateKey"/>, PKCS#8 under the key-encryption key, bound to the key id and algorithm).
/// </summary>
public sealed record StoredSigningKey
{
    /// <summary>The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key.</summary>
    public required string KeyId { get; init; }

    /// <summary>The one JWS algorithm this key is bound to.</summary>
    public required string Algorithm { get; init; }

    /// <summary>When the key was created (and published).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the key starts signing; until then it is pending.</summary>
    public required DateTimeOffset ActivatesAt { get; init; }

    /// <summary>When the key stops signing because its successor activates; null while it has no successor.</summary>
    public DateTimeOffset? RetiresAt { get; init; }

    /// <summary>When an operator revoked the key; null if never.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>The public key as DER SubjectPublicKeyInfo.</summary>
#pragma warning disable CA1819 // A stored record carries its bytes; callers never mutate them, and the stores serialize them as base64.
    public required byte[] PublicKey { get; init; }

    /// <summary>The private key, PKCS#8 encrypted by an <see cref="IKeyProtector"/>.</summary>
    public required byte[] ProtectedPrivateKey { get; init; }
#pragma warning restore CA1819

    /// <summary>The key's state at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="retention">How long a retired key keeps verifying.</param>
    /// <returns>The state.</returns>
    public KeyState GetState(DateTimeOffset now, TimeSpan retention) =>
        KeyLifecycle.StateAt(now, ActivatesAt, RetiresAt, RevokedAt, retention);
}

/// <summary>The one place the lifecycle rule is written down.</summary>
internal static class KeyLifecycle
{
    public static KeyState StateAt(
        DateTimeOffset now, DateTimeOffset activatesAt, DateTimeOffset? retiresAt, DateTimeOffset? revokedAt, TimeSpan retention)
    {
        if (revokedAt is { } revoked && now >= revoked)
        {
            return KeyState.Revoked;
        }

        if (now < activatesAt)
        {
            return KeyState.Pending;
        }

        if (retiresAt is { } retires && now >= retires)
        {
            return now < retires + retention ? KeyState.Retired : KeyState.Removed;
        }

        return KeyState.Active;
    }
}
