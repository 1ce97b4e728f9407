using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Safeguard.Authorization;

namespace Safeguard.Storage.Data;

/// <summary>Pending authorization requests and codes; a code is redeemed by one conditional UPDATE, so only once across nodes.</summary>
/// <param name="database">The database.</param>
public sealed class EfAuthorizationStore(SafeguardDatabase database) : IAuthorizationStore
{
    /// <inheritdoc />
    public async Task AddRequestAsync(AuthorizationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var context = database.CreateContext();
        context.AuthorizationRequests.Add(new AuthorizationRequestEntity
        {
            Id = request.Id,
            Payload = JsonSerializer.Serialize(request, AuthorizationJsonContext.Default.AuthorizationRequest),
            ExpiresAt = request.ExpiresAt.ToUnixTimeMilliseconds(),
        });
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<AuthorizationRequest?> FindRequestAsync(string id, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        var entity = await context.AuthorizationRequests.AsNoTracking().SingleOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : JsonSerializer.Deserialize(entity.Payload, AuthorizationJsonContext.Default.AuthorizationRequest);
    }

    /// <inheritdoc />
    public async Task<bool> RemoveRequestAsync(string id, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        return await context.AuthorizationRequests.Where(r => r.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task AddCodeAsync(AuthorizationCode code, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(code);
        using var context = database.CreateContext();
        context.AuthorizationCodes.Add(new AuthorizationCodeEntity
        {
            CodeHash = code.CodeHash,
            Payload = JsonSerializer.Serialize(code with { IssuedTokenIds = [], RedeemedAt = null }, AuthorizationJsonContext.Default.AuthorizationCode),
            ExpiresAt = code.ExpiresAt.ToUnixTimeMilliseconds(),
        });
        await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<(AuthorizationCode Code, bool FirstUse)?> RedeemCodeAsync(string codeHash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var first = await context.AuthorizationCodes.Where(c => c.CodeHash == codeHash && c.RedeemedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.RedeemedAt, atMs), cancellationToken).ConfigureAwait(false) == 1;
        var entity = await context.AuthorizationCodes.AsNoTracking().SingleOrDefaultAsync(c => c.CodeHash == codeHash, cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return null;
        }

        var code = JsonSerializer.Deserialize(entity.Payload, AuthorizationJsonContext.Default.AuthorizationCode)! with
        {
            RedeemedAt = entity.RedeemedAt is { } redeemed ? DateTimeOffset.FromUnixTimeMilliseconds(redeemed) : null,
            IssuedTokenIds = entity.IssuedTokenIds.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        };
        return (code, first);
    }

    /// <inheritdoc />
    public async Task RecordIssuedTokenAsync(string codeHash, string tokenId, CancellationToken cancellationToken)
    {
        using var context = database.CreateContext();
        await context.AuthorizationCodes.Where(c => c.CodeHash == codeHash)
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.IssuedTokenIds, c => c.IssuedTokenIds == string.Empty ? tokenId : c.IssuedTokenIds + " " + tokenId), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeExpiredAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        var requests = await context.AuthorizationRequests.Where(r => r.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        var codes = await context.AuthorizationCodes.Where(c => c.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        return requests + codes;
    }
}

[JsonSerializable(typeof(AuthorizationRequest))]
[JsonSerializable(typeof(AuthorizationCode))]
[JsonSerializable(typeof(RefreshToken))]
internal sealed partial class AuthorizationJsonContext : JsonSerializerContext;
