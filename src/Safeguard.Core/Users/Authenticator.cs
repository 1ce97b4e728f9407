namespace Safeguard.Users;

/// <summary>
/// A second factor a user holds: a TOTP app (its seed sealed under the key-encryption key), one single-use recovery
/// code (only its hash stored) or a passkey (a WebAuthn credential: its id and public key). <see cref="Counter"/> is
/// what makes each use single: for TOTP the last time step accepted (a code of that step or an earlier one is
/// refused), for a recovery code 1 once used, for a passkey the authenticator's signature counter (0 when it keeps
/// none, as synced passkeys do).
/// </summary>
public sealed record Authenticator
{
    /// <summary>A random id.</summary>
    public required string Id { get; init; }

    /// <summary>The user's subject.</summary>
    public required string Subject { get; init; }

    /// <summary>What kind of factor.</summary>
    public required AuthenticatorKind Kind { get; init; }

    /// <summary>A name the user recognises ("Authenticator app").</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>For TOTP: the seed, sealed under the KEK (bound to the subject and id).</summary>
#pragma warning disable CA1819 // A sealed blob, stored as is.
    public byte[]? ProtectedSecret { get; init; }

    /// <summary>For a recovery code: SHA-256 of the code under a domain label (the code has 120 bits of entropy).</summary>
    public byte[]? SecretHash { get; init; }

    /// <summary>For a passkey: the WebAuthn credential id (unique).</summary>
    public byte[]? CredentialId { get; init; }

    /// <summary>For a passkey: the credential public key (COSE).</summary>
    public byte[]? PublicKey { get; init; }
#pragma warning restore CA1819

    /// <summary>For a passkey: the authenticator model (AAGUID), all zeros when not disclosed.</summary>
    public Guid? Aaguid { get; init; }

    /// <summary>For a passkey: whether it may be synced to other devices (the BE flag at registration).</summary>
    public bool BackupEligible { get; init; }

    /// <summary>For a passkey: whether it was backed up (synced) at its last use (the BS flag).</summary>
    public bool BackedUp { get; init; }

    /// <summary>For a passkey: the transports the browser reported (usb, nfc, ble, internal, hybrid), space-separated.</summary>
    public string? Transports { get; init; }

    /// <summary>The last TOTP time step accepted, or 1 once a recovery code is used; 0 when never used.</summary>
    public long Counter { get; init; }

    /// <summary>Consecutive failed attempts against this factor.</summary>
    public int Failures { get; init; }

    /// <summary>When it was enrolled.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was last used successfully.</summary>
    public DateTimeOffset? LastUsedAt { get; init; }
}

/// <summary>Kinds of second factor.</summary>
public enum AuthenticatorKind
{
    /// <summary>A time-based one-time password app (RFC 6238).</summary>
    Totp,

    /// <summary>A single-use recovery code.</summary>
    RecoveryCode,

    /// <summary>A passkey (WebAuthn credential), phishing-resistant.</summary>
    Passkey,
}
