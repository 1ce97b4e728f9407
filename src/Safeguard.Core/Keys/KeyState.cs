namespace Safeguard.Keys;

/// <summary>Where a signing key is in its life. States follow from the key's timestamps and the clock.</summary>
public enum KeyState
{
    /// <summary>Published in the JWKS so verifiers learn it, but not yet signing (the propagation period).</summary>
    Pending,

    /// <summary>The key that signs new tokens; published.</summary>
    Active,

    /// <summary>No longer signing; still published and verifying until every token it signed has expired.</summary>
    Retired,

    /// <summary>Past retention: neither published nor verifying; its record is deleted.</summary>
    Removed,

    /// <summary>Revoked by an operator: neither published nor verifying, from that instant.</summary>
    Revoked,
}
