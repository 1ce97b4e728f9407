namespace Safeguard.Sessions;

/// <summary>
/// A server-side sign-in session (164.312(a)(2)(iii) automatic logoff). The browser holds only a random secret whose
/// SHA-256 is <see cref="SecretHash"/>; <see cref="Id"/> is the <c>sid</c> tokens and resource servers see. A session
/// ends at its idle timeout, its absolute lifetime, or logout, whichever comes first, and never comes back.
/// </summary>
public sealed record UserSession
{
    /// <summary>The session id (<c>sid</c>): 128 random bits, base64url.</summary>
    public required string Id { get; init; }

    /// <summary>SHA-256 of the cookie secret.</summary>
#pragma warning disable CA1819 // A stored hash.
    public required byte[] SecretHash { get; init; }
#pragma warning restore CA1819

    /// <summary>The user.</summary>
    public required string Subject { get; init; }

    /// <summary>When the user authenticated (<c>auth_time</c>).</summary>
    public required DateTimeOffset AuthenticatedAt { get; init; }

    /// <summary>The authentication methods (<c>amr</c>, RFC 8176): <c>pwd</c>, <c>otp</c>, <c>mfa</c>, ...</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>The authentication context class (<c>acr</c>).</summary>
    public string? Acr { get; init; }

    /// <summary>When it started.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The last request that kept it alive.</summary>
    public required DateTimeOffset LastSeenAt { get; init; }

    /// <summary>The absolute end, whatever the activity.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it ended, if it did.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Why it ended: <c>logout</c>, <c>idle</c>, <c>absolute</c>, <c>admin</c>.</summary>
    public string? EndReason { get; init; }

    /// <summary>The address it started from.</summary>
    public string? SourceIp { get; init; }

    /// <summary>The user agent it started with (truncated).</summary>
    public string? UserAgent { get; init; }

    /// <summary>The clients given a code in this session (told by back-channel logout when it ends).</summary>
    public IReadOnlyList<string> ClientIds { get; init; } = [];
}

/// <summary>Where sessions are kept.</summary>
public interface ISessionStore
{
    /// <summary>Adds a session.</summary>
    Task AddAsync(UserSession session, CancellationToken cancellationToken);

    /// <summary>The session whose cookie secret hashes to <paramref name="secretHash"/>, ended or not; null if none.</summary>
    Task<UserSession?> FindBySecretHashAsync(byte[] secretHash, CancellationToken cancellationToken);

    /// <summary>One session by id, or null.</summary>
    Task<UserSession?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Records activity, only if the session has not ended (one statement).</summary>
    /// <returns>True if recorded.</returns>
    Task<bool> TouchAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Ends a session, only if it has not ended already (one statement).</summary>
    /// <returns>True if this call ended it.</returns>
    Task<bool> EndAsync(string id, string reason, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Records that a client was given a code in the session (once per client; one statement).</summary>
    /// <returns>A task that completes when recorded.</returns>
    Task AddClientAsync(string id, string clientId, CancellationToken cancellationToken);

    /// <summary>A user's sessions that have not ended, newest first.</summary>
    Task<IReadOnlyList<UserSession>> GetActiveForUserAsync(string subject, CancellationToken cancellationToken);
}
