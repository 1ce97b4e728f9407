using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Safeguard.Authorization;

namespace Safeguard.Sessions;

/// <summary>
/// Starts, checks and ends sessions. A check past the idle timeout or the absolute lifetime ends the session there
/// and then (automatic logoff) and says so, so the caller records a <c>session.timed_out</c> event; activity moves
/// the idle clock.
/// </summary>
public sealed class SessionManager
{
    private static readonly byte[] Label = "safeguard-session-v1\0"u8.ToArray();

    private readonly ISessionStore _store;
    private readonly IRefreshTokenStore _refreshTokens;
    private readonly SessionOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the manager.</summary>
    public SessionManager(ISessionStore store, IRefreshTokenStore refreshTokens, IOptions<SessionOptions> options, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _refreshTokens = refreshTokens ?? throw new ArgumentNullException(nameof(refreshTokens));
        _options = OptionsGuard.Validated(new SessionOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>The options in force.</summary>
    public SessionOptions Options => _options;

    /// <summary>
    /// Raised once for each session this node ends, whatever the reason (sign-out, logout, a limit, the account page,
    /// an administrator), with the session's id and the reason, after the end is durable. Handlers must not block.
    /// </summary>
    public event EventHandler<SessionEndedEventArgs>? Ended;

    /// <summary>Starts a session for a user who has just authenticated.</summary>
    /// <returns>The session and the secret for the cookie (shown to the browser only).</returns>
    public async Task<(UserSession Session, string CookieSecret)> StartAsync(
        string subject, IReadOnlyList<string> amr, string? acr, string? sourceIp, string? userAgent, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var session = new UserSession
        {
            Id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
            SecretHash = Hash(secret),
            Subject = subject,
            AuthenticatedAt = now,
            Amr = amr,
            Acr = acr,
            CreatedAt = now,
            LastSeenAt = now,
            ExpiresAt = now + _options.AbsoluteLifetime,
            SourceIp = sourceIp,
            UserAgent = userAgent is { Length: > 512 } ? userAgent[..512] : userAgent,
        };
        await _store.AddAsync(session, cancellationToken).ConfigureAwait(false);
        return (session, secret);
    }

    /// <summary>
    /// The live session behind a cookie secret. A session past a limit is ended now and returned in
    /// <see cref="SessionCheck.TimedOut"/> for the audit; an ended or unknown one is no session.
    /// </summary>
    /// <param name="cookieSecret">The cookie's value.</param>
    /// <param name="touch">Whether this request counts as activity.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The check.</returns>
    public async Task<SessionCheck> CheckAsync(string? cookieSecret, bool touch, CancellationToken cancellationToken)
    {
        if (cookieSecret is not { Length: 43 })
        {
            return default;
        }

        var session = await _store.FindBySecretHashAsync(Hash(cookieSecret), cancellationToken).ConfigureAwait(false);
        if (session is null || session.EndedAt is not null)
        {
            return default;
        }

        var now = _time.GetUtcNow();
        if (LimitReached(session, now) is { } reason)
        {
            var ended = await EndAsync(session.Id, reason, cancellationToken).ConfigureAwait(false);
            return new SessionCheck(null, ended ? session with { EndedAt = now, EndReason = reason } : null);
        }

        if (touch && await _store.TouchAsync(session.Id, now, cancellationToken).ConfigureAwait(false))
        {
            session = session with { LastSeenAt = now };
        }

        return new SessionCheck(session, null);
    }

    /// <summary>Which limit a session has reached at <paramref name="now"/>: <c>absolute</c>, <c>idle</c>, or null for none.</summary>
    public string? LimitReached(UserSession session, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(session);
        return now >= session.ExpiresAt ? "absolute" : now - session.LastSeenAt >= _options.IdleTimeout ? "idle" : null;
    }

    /// <summary>Records activity on a live session (a refresh, an authorization).</summary>
    public Task<bool> TouchAsync(string sessionId, CancellationToken cancellationToken) => _store.TouchAsync(sessionId, _time.GetUtcNow(), cancellationToken);

    /// <summary>Ends a session (logout, a limit, an administrator); every refresh token bound to it is revoked with it.</summary>
    /// <returns>True if this call ended it.</returns>
    public async Task<bool> EndAsync(string sessionId, string reason, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var ended = await _store.EndAsync(sessionId, reason, now, cancellationToken).ConfigureAwait(false);
        await _refreshTokens.RevokeSessionAsync(sessionId, now, cancellationToken).ConfigureAwait(false);
        if (ended)
        {
            Ended?.Invoke(this, new SessionEndedEventArgs(sessionId, reason));
        }

        return ended;
    }

    private static byte[] Hash(string secret)
    {
        var input = new byte[Label.Length + Encoding.ASCII.GetByteCount(secret)];
        Label.CopyTo(input, 0);
        Encoding.ASCII.GetBytes(secret, input.AsSpan(Label.Length));
        return SHA256.HashData(input);
    }
}

/// <summary>A session ended (<see cref="SessionManager.Ended"/>).</summary>
/// <param name="sessionId">The session.</param>
/// <param name="reason">Why.</param>
public sealed class SessionEndedEventArgs(string sessionId, string reason) : EventArgs
{
    /// <summary>The session.</summary>
    public string SessionId { get; } = sessionId;

    /// <summary>Why it ended.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The result of checking a session cookie.</summary>
/// <param name="Session">The live session, or null.</param>
/// <param name="TimedOut">A session this check ended at a limit (for the <c>session.timed_out</c> event), or null.</param>
public readonly record struct SessionCheck(UserSession? Session, UserSession? TimedOut);
