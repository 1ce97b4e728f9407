namespace Safeguard.Keys;

/// <summary>The trusted keys a validator may verify with. The token header never adds to this set.</summary>
public interface IVerificationKeySource
{
    /// <summary>Finds the key a token's <c>kid</c> names. Only active and retired keys are found; pending, removed and revoked ones are not.</summary>
    /// <param name="keyId">A well-formed key id.</param>
    /// <returns>The lookup result.</returns>
    KeyLookup FindKey(string keyId);

    /// <summary>Raised when a key is revoked, so caches of tokens it verified are emptied at once.</summary>
    event EventHandler<KeyRevokedEventArgs>? KeyRevoked;
}

/// <summary>The outcome of <see cref="IVerificationKeySource.FindKey"/>.</summary>
/// <param name="Key">The key, when found.</param>
/// <param name="IsRevoked">True when the id names a key that was revoked.</param>
public readonly record struct KeyLookup(SigningKey? Key, bool IsRevoked);

/// <summary>Names the key that was revoked.</summary>
/// <param name="keyId">The revoked key's id.</param>
public sealed class KeyRevokedEventArgs(string keyId) : EventArgs
{
    /// <summary>The revoked key's id.</summary>
    public string KeyId { get; } = keyId;
}
