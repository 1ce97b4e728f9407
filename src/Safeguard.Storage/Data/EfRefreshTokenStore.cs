using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Safeguard.Authorization;

namespace Safeguard.Storage.Data;

/// <summary>Refresh tokens; a use is one conditional UPDATE, so a token rotates once across nodes.</summary>
/// <param name="database">The database.</param>
public sealed class EfRefreshTokenStore(SafeguardDatabase database) : IRefreshTokenStore
{
    /// <inheritdoc />
    public async Task AddAsync(RefreshToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        using var context = database.CreateContext();
        context.RefreshTokens.Add(new RefreshTokenEntity
        {
            TokenHash = token.TokenHash,
            FamilyId = token.FamilyId,
            SessionId = token.SessionId,
            Payload = JsonSerializer.Serialize(token with { UsedAt = null, RevokedAt = null }, AuthorizationJsonContext.Default.RefreshToken),
            ExpiresAt = token.ExpiresAt.ToUnixTimeMilliseconds(),
        });
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<RefreshToken?> FindAsync(string tokenHash, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entity = await context.RefreshTokens.AsNoTracking().SingleOrDefaultAsync(t => t.TokenHash == tokenHash, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : ToToken(entity);
    }

    /// <inheritdoc />
    public async Task<(RefreshToken Token, bool FirstUse)?> UseAsync(string tokenHash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var first = await context.RefreshTokens.Where(t => t.TokenHash == tokenHash && t.UsedAt == null && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.UsedAt, atMs), cancellationToken).ConfigureAwait(false) == 1;
        var entity = await context.RefreshTokens.AsNoTracking().SingleOrDefaultAsync(t => t.TokenHash == tokenHash, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : (ToToken(entity), first);
    }

    /// <inheritdoc />
    public async Task<int> RevokeFamilyAsync(string familyId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RefreshTokens.Where(t => t.FamilyId == familyId && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.RevokedAt, atMs), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> RevokeSessionAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RefreshTokens.Where(t => t.SessionId == sessionId && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.RevokedAt, atMs), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeExpiredAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RefreshTokens.Where(t => t.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static RefreshToken ToToken(RefreshTokenEntity entity) => JsonSerializer.Deserialize(entity.Payload, AuthorizationJsonContext.Default.RefreshToken)! with
    {
        UsedAt = entity.UsedAt is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null,
        RevokedAt = entity.RevokedAt is { } revoked ? DateTimeOffset.FromUnixTimeMilliseconds(revoked) : null,
    };
}
