using Safeguard.Storage.Data;
using Safeguard.Tokens;

namespace Safeguard.Server.Services;

/// <summary>
/// Revoked access-token ids: written to the database first (so every node and, later, every gateway sees them),
/// then to this node's in-memory list that the validator consults. Other nodes' revocations are pulled every
/// <c>RevocationSyncInterval</c>. Ids are kept until the token would have expired.
/// </summary>
internal sealed class RevocationService(EfRevocationStore store, TimeProvider time)
{
    private static readonly TimeSpan SyncMargin = TimeSpan.FromSeconds(10);
    private DateTimeOffset _lastSync = DateTimeOffset.UnixEpoch;

    /// <summary>The list the validator consults.</summary>
    public InMemoryAccessTokenRevocationList List { get; } = new();

    /// <summary>Revokes a token until it expires; durable before it returns.</summary>
    public async Task RevokeAsync(string tokenId, string clientId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await store.RevokeAsync(new RevokedToken(tokenId, clientId, time.GetUtcNow(), expiresAt), cancellationToken).ConfigureAwait(false);
        List.Revoke(tokenId, expiresAt + AccessTokenValidationOptions.MaximumClockSkew);
    }

    /// <summary>Pulls revocations recorded since the last pull, and forgets expired ones.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var revoked in await store.GetSinceAsync(_lastSync - SyncMargin, now, cancellationToken).ConfigureAwait(false))
        {
            List.Revoke(revoked.TokenId, revoked.ExpiresAt + AccessTokenValidationOptions.MaximumClockSkew);
        }

        _lastSync = now;
        List.Prune(now);
    }
}
