using Microsoft.EntityFrameworkCore;
using Safeguard.Keys;

namespace Safeguard.Storage.Data;

/// <summary>
/// Signing keys in the <c>signing_keys</c> table, exactly as sealed by the key ring (never in clear). Times are kept
/// in UTC ticks, not milliseconds: the sealed record's associated data covers them, so they must round-trip exactly.
/// </summary>
/// <param name="database">The database.</param>
public sealed class EfSigningKeyStore(SafeguardDatabase database) : ISigningKeyStore
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredSigningKey>> GetAllAsync(CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entities = await context.SigningKeys.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false);
        return entities.ConvertAll(ToStored);
    }

    /// <inheritdoc />
    public async Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var context = database.CreateContext();
        await EntityWrites.InsertAsync(context, ToEntity(key), $"A signing key with id '{key.KeyId}' is already stored.", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task UpdateAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var context = database.CreateContext();
        await EntityWrites.ReplaceAsync(context, context.SigningKeys.Where(k => k.KeyId == key.KeyId), ToEntity(key),
            $"No signing key with id '{key.KeyId}' is stored.", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string keyId, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        await context.SigningKeys.Where(k => k.KeyId == keyId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static StoredSigningKey ToStored(SigningKeyEntity e) => new()
    {
        KeyId = e.KeyId,
        Algorithm = e.Algorithm,
        CreatedAt = FromTicks(e.CreatedAt),
        ActivatesAt = FromTicks(e.ActivatesAt),
        RetiresAt = e.RetiresAt is { } r ? FromTicks(r) : null,
        RevokedAt = e.RevokedAt is { } v ? FromTicks(v) : null,
        PublicKey = e.PublicKey,
        ProtectedPrivateKey = e.ProtectedPrivateKey,
    };

    private static SigningKeyEntity ToEntity(StoredSigningKey k) => new()
    {
        KeyId = k.KeyId,
        Algorithm = k.Algorithm,
        CreatedAt = k.CreatedAt.UtcTicks,
        ActivatesAt = k.ActivatesAt.UtcTicks,
        RetiresAt = k.RetiresAt?.UtcTicks,
        RevokedAt = k.RevokedAt?.UtcTicks,
        PublicKey = k.PublicKey,
        ProtectedPrivateKey = k.ProtectedPrivateKey,
    };

    private static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);
}
