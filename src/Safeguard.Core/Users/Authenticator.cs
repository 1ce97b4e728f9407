namespace Safeguard.Users;

/// <summary>
/// A second factor a user holds: a TOTP app (its seed sealed under the key-encryption key) or one single-use
/// recovery code (only its hash stored). <see cref="Counter"/> is what makes each use single: for TOTP the last
/// time step accepted (a code of that step or an earlier one is refused), for a recovery code 1 once used.
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
#pragma warning restore CA1819

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
}
