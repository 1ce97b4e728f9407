namespace Safeguard.Authorization;

/// <summary>
/// A refresh token (RFC 6749 section 6, OAuth 2.1 section 4.3): 256 random bits, stored only as its SHA-256,
/// rotated on every use, one family per sign-in grant, bound to the session (it dies with it) and, for a client that
/// used DPoP, to the DPoP key. A token used twice betrays a copy: the whole family is revoked (RFC 9700 section 4.14.2).
/// </summary>
public sealed record RefreshToken
{
    /// <summary>SHA-256 of the token, base64url: the key.</summary>
    public required string TokenHash { get; init; }

    /// <summary>The family: every token rotated from one code exchange.</summary>
    public required string FamilyId { get; init; }

    /// <summary>The client.</summary>
    public required string ClientId { get; init; }

    /// <summary>The user.</summary>
    public required string Subject { get; init; }

    /// <summary>The session it is bound to.</summary>
    public required string SessionId { get; init; }

    /// <summary>The scopes granted.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The resources granted.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>When the user authenticated.</summary>
    public required DateTimeOffset AuthenticatedAt { get; init; }

    /// <summary>The <c>acr</c>.</summary>
    public string? Acr { get; init; }

    /// <summary>The <c>amr</c>.</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>The DPoP key thumbprint it is bound to, or null.</summary>
    public string? DpopJkt { get; init; }

    /// <summary>When it was issued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it expires at the latest (the session's absolute end).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it was used (rotated), if it was.</summary>
    public DateTimeOffset? UsedAt { get; init; }

    /// <summary>When it was revoked, if it was.</summary>
    public DateTimeOffset? RevokedAt { get; init; }
}

/// <summary>A refresh token as a refresh finds it: with its session and the session's user.</summary>
/// <param name="Token">The token.</param>
/// <param name="Session">Its session, or null if it no longer exists.</param>
/// <param name="User">The session's user, or null if none.</param>
public sealed record RefreshTokenUse(RefreshToken Token, Sessions.UserSession? Session, Users.User? User);

/// <summary>Where refresh tokens are kept (shared by every node).</summary>
public interface IRefreshTokenStore
{
    /// <summary>Stores a new token.</summary>
    Task AddAsync(RefreshToken token, CancellationToken cancellationToken);

    /// <summary>A token by hash, or null.</summary>
    Task<RefreshToken?> FindAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// A token by hash with its session and that session's user, read together (one statement): what a refresh decides
    /// on. Null when there is no such token; <see cref="RefreshTokenUse.Session"/> or <see cref="RefreshTokenUse.User"/>
    /// null when they no longer exist.
    /// </summary>
    Task<RefreshTokenUse?> FindForUseAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Rotates a token in one transaction: marks <paramref name="usedHash"/> used only if it is still unused and
    /// unrevoked, and then (only then) records activity on its session and stores <paramref name="replacement"/>. Of two
    /// rotations of one token, on any node, exactly one succeeds. Concurrent rotations on a node may share one commit.
    /// </summary>
    /// <param name="usedHash">The hash of the token presented.</param>
    /// <param name="at">When.</param>
    /// <param name="sessionId">Its session, touched (activity for the idle clock).</param>
    /// <param name="replacement">The token that replaces it, or null for none.</param>
    /// <param name="cancellationToken">Cancels the wait (the rotation may still commit).</param>
    /// <returns>True if this call rotated it; false if it was already used or revoked.</returns>
    Task<bool> RotateAsync(string usedHash, DateTimeOffset at, string sessionId, RefreshToken? replacement, CancellationToken cancellationToken);

    /// <summary>Revokes every token of a family (the family's session is named too: tokens are found by session, then family).</summary>
    /// <returns>How many were revoked now.</returns>
    Task<int> RevokeFamilyAsync(string sessionId, string familyId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Revokes every token bound to a session (the session ended).</summary>
    /// <returns>How many were revoked now.</returns>
    Task<int> RevokeSessionAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Deletes tokens that expired before <paramref name="before"/>.</summary>
    Task<int> PurgeExpiredAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
