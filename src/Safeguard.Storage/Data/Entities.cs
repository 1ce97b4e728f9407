namespace Safeguard.Storage.Data;

// Times are stored as Unix milliseconds (bigint) on both providers: SQLite has no native timestamp type that EF can
// compare in queries, and one representation keeps the two schemas and their queries identical.

/// <summary>A row of <c>clients</c>.</summary>
public sealed class ClientEntity
{
    /// <summary>Primary key.</summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>The registered authentication method.</summary>
    public string AuthenticationMethod { get; set; } = string.Empty;

    /// <summary>Space-separated grant types.</summary>
    public string GrantTypes { get; set; } = string.Empty;

    /// <summary>Space-separated allowed scopes.</summary>
    public string AllowedScopes { get; set; } = string.Empty;

    /// <summary>Space-separated allowed resource indicators.</summary>
    public string AllowedResources { get; set; } = string.Empty;

    /// <summary>SHA-256 of the secret, for <c>client_secret_basic</c>.</summary>
#pragma warning disable CA1819 // An entity maps a column.
    public byte[]? SecretHash { get; set; }
#pragma warning restore CA1819

    /// <summary>The public JWKS, for <c>private_key_jwt</c>.</summary>
    public string? Jwks { get; set; }

    /// <summary>The pinned certificate thumbprint, for <c>self_signed_tls_client_auth</c>.</summary>
    public string? CertificateThumbprint { get; set; }

    /// <summary>The certificate subject DN, for <c>tls_client_auth</c>.</summary>
    public string? CertificateSubject { get; set; }

    /// <summary>Whether DPoP is required.</summary>
    public bool RequireDpop { get; set; }

    /// <summary>Whether sign-in requests must be pushed first (RFC 9126).</summary>
    public bool RequirePushedAuthorizationRequests { get; set; }

    /// <summary>The OIDC back-channel logout URI.</summary>
    public string? BackchannelLogoutUri { get; set; }

    /// <summary>Space-separated resources the client may introspect tokens for.</summary>
    public string IntrospectionResources { get; set; } = string.Empty;

    /// <summary>Space-separated exact redirect URIs (authorization-code clients).</summary>
    public string RedirectUris { get; set; } = string.Empty;

    /// <summary>Whether the client may authenticate.</summary>
    public bool Enabled { get; set; }

    /// <summary>Registration time, Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Last change, Unix ms.</summary>
    public long UpdatedAt { get; set; }
}

/// <summary>A row of <c>signing_keys</c>: the private key only ever encrypted. Times here are UTC ticks (exact round-trip).</summary>
public sealed class SigningKeyEntity
{
    /// <summary>Primary key: the RFC 7638 thumbprint.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary>The key's one algorithm.</summary>
    public string Algorithm { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long ActivatesAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long? RetiresAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long? RevokedAt { get; set; }

#pragma warning disable CA1819 // An entity maps a column.
    /// <summary>DER SubjectPublicKeyInfo.</summary>
    public byte[] PublicKey { get; set; } = [];

    /// <summary>AES-256-GCM sealed PKCS#8.</summary>
    public byte[] ProtectedPrivateKey { get; set; } = [];
#pragma warning restore CA1819
}

/// <summary>A row of <c>revoked_tokens</c>: an access-token id revoked before its expiry.</summary>
public sealed class RevokedTokenEntity
{
    /// <summary>Primary key: the token's <c>jti</c>.</summary>
    public string TokenId { get; set; } = string.Empty;

    /// <summary>The client the token was issued to.</summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>When it was revoked, Unix ms.</summary>
    public long RevokedAt { get; set; }

    /// <summary>When the token expires, Unix ms: the row is kept until then.</summary>
    public long ExpiresAt { get; set; }
}

/// <summary>A row of <c>replay_entries</c>: a one-time value seen, kept until it could no longer pass its time checks.</summary>
public sealed class ReplayEntity
{
    /// <summary>What kind of value (<c>dpop</c>, <c>client_assertion</c>).</summary>
    public string Purpose { get; set; } = string.Empty;

    /// <summary>SHA-256 of the value, base64url.</summary>
    public string ValueHash { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }
}

/// <summary>A row of <c>enrolment_links</c>: only the hash of the code is stored.</summary>
public sealed class EnrolmentLinkEntity
{
#pragma warning disable CA1819 // An entity maps a column.
    /// <summary>Primary key: SHA-256 of the code.</summary>
    public byte[] Hash { get; set; } = [];
#pragma warning restore CA1819

    /// <summary>The user it enrols.</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Unix ms, once spent.</summary>
    public long? UsedAt { get; set; }
}

/// <summary>A row of <c>users</c>: never deleted, so a subject, username or e-mail address stays taken.</summary>
public sealed class UserEntity
{
    /// <summary>Primary key: the opaque subject identifier.</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary>The username as entered (NFKC).</summary>
    public string Username { get; set; } = string.Empty;

    /// <summary>The username's uniqueness key (lower case).</summary>
    public string UsernameKey { get; set; } = string.Empty;

    /// <summary>The e-mail address, if any.</summary>
    public string? Email { get; set; }

    /// <summary>The e-mail address's uniqueness key (lower case), if any.</summary>
    public string? EmailKey { get; set; }

    /// <summary>Space-separated roles.</summary>
    public string Roles { get; set; } = string.Empty;

    /// <summary><c>active</c>, <c>disabled</c> or <c>locked</c>.</summary>
    public string Status { get; set; } = string.Empty;

    /// <summary>The Argon2id PHC string, if a password is set.</summary>
    public string? PasswordHash { get; set; }

    /// <summary>Unix ms.</summary>
    public long? PasswordChangedAt { get; set; }

    /// <summary>Consecutive failed sign-ins.</summary>
    public int FailedSignIns { get; set; }

    /// <summary>Unix ms of the last failed sign-in.</summary>
    public long? LastFailedSignInAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Unix ms; the concurrency token of updates.</summary>
    public long UpdatedAt { get; set; }
}

/// <summary>A row of <c>authenticators</c>: a user's second factor. Seeds only sealed, recovery codes only hashed.</summary>
public sealed class AuthenticatorEntity
{
    /// <summary>Primary key: a random id.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>The user's subject.</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary><c>totp</c> or <c>recovery_code</c>.</summary>
    public string Kind { get; set; } = string.Empty;

    /// <summary>A name the user recognises.</summary>
    public string Name { get; set; } = string.Empty;

#pragma warning disable CA1819 // An entity maps a column.
    /// <summary>AES-256-GCM sealed TOTP seed.</summary>
    public byte[]? ProtectedSecret { get; set; }

    /// <summary>SHA-256 of a recovery code.</summary>
    public byte[]? SecretHash { get; set; }

    /// <summary>A passkey's WebAuthn credential id (unique).</summary>
    public byte[]? CredentialId { get; set; }

    /// <summary>A passkey's COSE public key.</summary>
    public byte[]? PublicKey { get; set; }
#pragma warning restore CA1819

    /// <summary>A passkey's AAGUID.</summary>
    public string? Aaguid { get; set; }

    /// <summary>A passkey's backup eligibility (BE).</summary>
    public bool BackupEligible { get; set; }

    /// <summary>A passkey's backup state (BS) at its last use.</summary>
    public bool BackedUp { get; set; }

    /// <summary>A passkey's transports, space-separated.</summary>
    public string? Transports { get; set; }

    /// <summary>Last TOTP step accepted, or 1 once a recovery code is spent.</summary>
    public long Counter { get; set; }

    /// <summary>Consecutive failed attempts.</summary>
    public int Failures { get; set; }

    /// <summary>Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long? LastUsedAt { get; set; }
}

/// <summary>A row of <c>sessions</c>: only the hash of the cookie secret is stored.</summary>
public sealed class SessionEntity
{
    /// <summary>Primary key: the <c>sid</c>.</summary>
    public string Id { get; set; } = string.Empty;

#pragma warning disable CA1819 // An entity maps a column.
    /// <summary>SHA-256 of the cookie secret.</summary>
    public byte[] SecretHash { get; set; } = [];
#pragma warning restore CA1819

    /// <summary>The user.</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long AuthenticatedAt { get; set; }

    /// <summary>Space-separated <c>amr</c>.</summary>
    public string Amr { get; set; } = string.Empty;

    /// <summary>The <c>acr</c>.</summary>
    public string? Acr { get; set; }

    /// <summary>Unix ms.</summary>
    public long CreatedAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long LastSeenAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Unix ms.</summary>
    public long? EndedAt { get; set; }

    /// <summary>Why it ended.</summary>
    public string? EndReason { get; set; }

    /// <summary>Where it started.</summary>
    public string? SourceIp { get; set; }

    /// <summary>The user agent.</summary>
    public string? UserAgent { get; set; }

    /// <summary>The clients given a code in the session, space-separated.</summary>
    public string ClientIds { get; set; } = string.Empty;
}

/// <summary>A row of <c>authorization_requests</c>: a pending request as JSON, until a code is issued or it expires.</summary>
public sealed class AuthorizationRequestEntity
{
    /// <summary>Primary key: the random id.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>The request, as JSON.</summary>
    public string Payload { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }
}

/// <summary>A row of <c>authorization_codes</c>: keyed by the code's hash, never the code.</summary>
public sealed class AuthorizationCodeEntity
{
    /// <summary>Primary key: SHA-256 of the code, base64url.</summary>
    public string CodeHash { get; set; } = string.Empty;

    /// <summary>The code's grant, as JSON.</summary>
    public string Payload { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Unix ms, once redeemed.</summary>
    public long? RedeemedAt { get; set; }

    /// <summary>Space-separated ids of the tokens issued for it.</summary>
    public string IssuedTokenIds { get; set; } = string.Empty;
}

/// <summary>A row of <c>refresh_tokens</c>: keyed by the token's hash, never the token.</summary>
public sealed class RefreshTokenEntity
{
    /// <summary>Primary key: SHA-256 of the token, base64url.</summary>
    public string TokenHash { get; set; } = string.Empty;

    /// <summary>The family.</summary>
    public string FamilyId { get; set; } = string.Empty;

    /// <summary>The session.</summary>
    public string SessionId { get; set; } = string.Empty;

    /// <summary>The grant, as JSON.</summary>
    public string Payload { get; set; } = string.Empty;

    /// <summary>Unix ms.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Unix ms, once used.</summary>
    public long? UsedAt { get; set; }

    /// <summary>Unix ms, once revoked.</summary>
    public long? RevokedAt { get; set; }
}
