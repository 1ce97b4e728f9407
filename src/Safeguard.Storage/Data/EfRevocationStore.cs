using Microsoft.EntityFrameworkCore;

namespace Safeguard.Storage.Data;

/// <summary>A revoked access-token id as nodes and gateways receive it.</summary>
/// <param name="TokenId">The token's <c>jti</c>.</param>
/// <param name="ClientId">The client it was issued to.</param>
/// <param name="RevokedAt">When it was revoked.</param>
/// <param name="ExpiresAt">When the token expires (the id is kept until then).</param>
public sealed record RevokedToken(string TokenId, string ClientId, DateTimeOffset RevokedAt, DateTimeOffset ExpiresAt);

/// <summary>Revoked access-token ids in <c>revoked_tokens</c>, kept until the token would have expired.</summary>
/// <param name="database">The database.</param>
public sealed class EfRevocationStore(SafeguardDatabase database)
{
    /// <summary>Records a revocation; revoking an id twice keeps the first record.</summary>
    /// <param name="token">The revocation.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the revocation is durable.</returns>
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

    /// <summary>Revocations recorded at or after <paramref name="since"/> whose tokens have not expired at <paramref name="now"/>.</summary>
    /// <param name="since">The last revocation time the caller has seen (minus a margin for clock differences between nodes).</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The revocations.</returns>
    public async Task<IReadOnlyList<RevokedToken>> GetSinceAsync(DateTimeOffset since, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var sinceMs = since.ToUnixTimeMilliseconds();
        var nowMs = now.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var rows = await context.RevokedTokens.AsNoTracking()
            .Where(r => r.RevokedAt >= sinceMs && r.ExpiresAt > nowMs)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => new RevokedToken(
            r.TokenId, r.ClientId, DateTimeOffset.FromUnixTimeMilliseconds(r.RevokedAt), DateTimeOffset.FromUnixTimeMilliseconds(r.ExpiresAt)));
    }

    /// <summary>Deletes ids whose tokens expired before <paramref name="before"/>.</summary>
    /// <param name="before">The cut-off.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were deleted.</returns>
    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RevokedTokens.Where(r => r.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}
