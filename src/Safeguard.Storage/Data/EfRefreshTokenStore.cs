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

        // Plain SQL: this runs on every refresh (see SafeguardDatabase.OpenConnectionAsync).
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var insert = SafeguardDatabase.Command(
                connection,
                "INSERT INTO refresh_tokens (token_hash, family_id, session_id, payload, expires_at, used_at, revoked_at) VALUES (@hash, @family, @session, @payload, @expires, NULL, NULL)",
                ("hash", token.TokenHash),
                ("family", token.FamilyId),
                ("session", token.SessionId),
                ("payload", JsonSerializer.Serialize(token with { UsedAt = null, RevokedAt = null }, AuthorizationJsonContext.Default.RefreshToken)),
                ("expires", token.ExpiresAt.ToUnixTimeMilliseconds()));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
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
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var use = SafeguardDatabase.Command(
                connection,
                "UPDATE refresh_tokens SET used_at = @at WHERE token_hash = @hash AND used_at IS NULL AND revoked_at IS NULL",
                ("at", at.ToUnixTimeMilliseconds()),
                ("hash", tokenHash));
            var first = await use.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
            using var read = SafeguardDatabase.Command(connection, "SELECT payload, used_at, revoked_at FROM refresh_tokens WHERE token_hash = @hash", ("hash", tokenHash));
            var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                var entity = new RefreshTokenEntity
                {
                    TokenHash = tokenHash,
                    Payload = reader.GetString(0),
                    UsedAt = reader.IsDBNull(1) ? null : reader.GetInt64(1),
                    RevokedAt = reader.IsDBNull(2) ? null : reader.GetInt64(2),
                };
                return (ToToken(entity), first);
            }
        }
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
