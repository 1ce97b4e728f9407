using Microsoft.EntityFrameworkCore;
using Safeguard.Tokens;

namespace Safeguard.Storage.Data;

/// <summary>
/// The revocation feed read from the state tables themselves, each through an index on its time column:
/// <c>revoked_tokens.revoked_at</c>, <c>sessions.ended_at</c>, <c>users.updated_at</c> (status not active),
/// <c>clients.updated_at</c> (disabled), <c>signing_keys.revoked_at</c>. Nothing is written twice, and every node
/// reads what any node revoked.
/// </summary>
/// <param name="database">The database.</param>
public sealed class EfRevocationFeedSource(SafeguardDatabase database) : IRevocationFeedSource
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<RevocationFeedEntry>> ReadSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        var after = since.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var entries = new List<(RevocationKind Kind, string Value, long At)>();
        entries.AddRange((await context.RevokedTokens.AsNoTracking().Where(r => r.RevokedAt > after).OrderBy(r => r.RevokedAt).Take(limit)
            .Select(r => new { r.TokenId, r.RevokedAt }).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Select(r => (RevocationKind.TokenId, r.TokenId, r.RevokedAt)));
        entries.AddRange((await context.Sessions.AsNoTracking().Where(s => s.EndedAt != null && s.EndedAt > after).OrderBy(s => s.EndedAt).Take(limit)
            .Select(s => new { s.Id, s.EndedAt }).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Select(s => (RevocationKind.Session, s.Id, s.EndedAt!.Value)));
        entries.AddRange((await context.Users.AsNoTracking().Where(u => u.UpdatedAt > after && u.Status != "active" && u.Status != "locked").OrderBy(u => u.UpdatedAt).Take(limit)
            .Select(u => new { u.Subject, u.UpdatedAt }).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Select(u => (RevocationKind.Subject, u.Subject, u.UpdatedAt)));
        entries.AddRange((await context.Clients.AsNoTracking().Where(c => c.UpdatedAt > after && !c.Enabled).OrderBy(c => c.UpdatedAt).Take(limit)
            .Select(c => new { c.ClientId, c.UpdatedAt }).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Select(c => (RevocationKind.Client, c.ClientId, c.UpdatedAt)));
        entries.AddRange((await context.SigningKeys.AsNoTracking().Where(k => k.RevokedAt != null && k.RevokedAt > after).OrderBy(k => k.RevokedAt).Take(limit)
            .Select(k => new { k.KeyId, k.RevokedAt }).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Select(k => (RevocationKind.Key, k.KeyId, k.RevokedAt!.Value)));
        return [.. entries.OrderBy(e => e.At).Take(limit).Select(e => new RevocationFeedEntry(e.Kind, e.Value, DateTimeOffset.FromUnixTimeMilliseconds(e.At)))];
    }
}
