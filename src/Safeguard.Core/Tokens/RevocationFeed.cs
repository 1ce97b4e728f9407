namespace Safeguard.Tokens;

/// <summary>What a revocation feed entry names.</summary>
public enum RevocationKind
{
    /// <summary>One access token, by <c>jti</c>.</summary>
    TokenId,

    /// <summary>A session (<c>sid</c>) that ended: every token it issued.</summary>
    Session,

    /// <summary>A user (<c>sub</c>) who was disabled: every token issued for them up to then.</summary>
    Subject,

    /// <summary>A client (<c>client_id</c>) that was disabled: every token issued to it up to then.</summary>
    Client,

    /// <summary>A signing key (<c>kid</c>) that was revoked: every token it signed.</summary>
    Key,
}

/// <summary>
/// One revocation as resource servers learn it: refuse every token of this kind and value issued at or before
/// <see cref="At"/> (a key: every token it signed). Later tokens are not affected, so a user enabled again is not
/// refused for what was issued after.
/// </summary>
/// <param name="Kind">What it names.</param>
/// <param name="Value">The jti, sid, sub, client id or kid.</param>
/// <param name="At">When it was revoked, ended or disabled.</param>
public sealed record RevocationFeedEntry(RevocationKind Kind, string Value, DateTimeOffset At)
{
    /// <summary>The wire name of a kind: <c>jti</c>, <c>sid</c>, <c>sub</c>, <c>client_id</c>, <c>kid</c>.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The name.</returns>
    public static string WireName(RevocationKind kind) => kind switch
    {
        RevocationKind.TokenId => "jti",
        RevocationKind.Session => "sid",
        RevocationKind.Subject => "sub",
        RevocationKind.Client => "client_id",
        RevocationKind.Key => "kid",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The kind of a wire name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="kind">The kind.</param>
    /// <returns>Whether it is one.</returns>
    public static bool TryParse(string? name, out RevocationKind kind)
    {
        foreach (var candidate in Enum.GetValues<RevocationKind>())
        {
            if (WireName(candidate) == name)
            {
                kind = candidate;
                return true;
            }
        }

        kind = default;
        return false;
    }
}

/// <summary>
/// Where the revocation feed reads from: the shared database, so every server node serves what any node revoked
/// (revoked tokens, ended sessions, disabled users and clients, revoked signing keys).
/// </summary>
public interface IRevocationFeedSource
{
    /// <summary>Every revocation later than <paramref name="since"/>, oldest first, at most <paramref name="limit"/>.</summary>
    /// <param name="since">The exclusive lower bound.</param>
    /// <param name="limit">The most entries returned.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entries.</returns>
    Task<IReadOnlyList<RevocationFeedEntry>> ReadSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken);
}

/// <summary>
/// A push from the shared database when any node commits a revocation (on PostgreSQL, <c>LISTEN</c>/<c>NOTIFY</c>
/// from triggers on the state tables), so the revocation feed wakes its waiting requests at once instead of at its
/// next poll. Where there is none (SQLite) or while it is lost, the feed polls.
/// </summary>
public interface IRevocationFeedNotifications
{
    /// <summary>Whether pushes are being received now; while not, the feed polls.</summary>
    bool IsListening { get; }

    /// <summary>
    /// A task that completes at the next push, and also when listening starts or stops (a push may have been missed
    /// meanwhile). The first call starts listening.
    /// </summary>
    /// <returns>The task.</returns>
    Task WhenChanged();
}
