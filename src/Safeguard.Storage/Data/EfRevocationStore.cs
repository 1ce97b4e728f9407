using Microsoft.EntityFrameworkCore;
using Safeguard.Tokens;

namespace Safeguard.Storage.Data;

/// <summary>Revoked access-token ids in <c>revoked_tokens</c>, kept until the token would have expired.</summary>
/// <param name="database">The database.</param>
public sealed class EfRevocationStore(SafeguardDatabase database) : IRevocationStore
{
    /// <inheritdoc />
    public async Task RevokeAsync(RevokedToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        using var context = database.CreateContext();
        var revokedAt = token.RevokedAt.ToUnixTimeMilliseconds();
        var expiresAt = token.ExpiresAt.ToUnixTimeMilliseconds();
        await context.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO revoked_tokens (token_id, client_id, revoked_at, expires_at) VALUES ({token.TokenId}, {token.ClientId}, {revokedAt}, {expiresAt}) ON CONFLICT DO NOTHING",
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RevokedToken>> GetUnexpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var rows = await context.RevokedTokens.AsNoTracking()
            .Where(r => r.ExpiresAt > nowMs)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => new RevokedToken(
            r.TokenId, r.ClientId, DateTimeOffset.FromUnixTimeMilliseconds(r.RevokedAt), DateTimeOffset.FromUnixTimeMilliseconds(r.ExpiresAt)));
    }

    /// <inheritdoc />
    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RevokedTokens.Where(r => r.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}
