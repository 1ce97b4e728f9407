using Safeguard.Tokens;

namespace Safeguard.Server.Revocation;

/// <summary>
/// Revoked access-token ids: written to the shared store first (so every node and, through the feed, every resource
/// server sees them), then to this node's in-memory list that the validator consults. <see cref="SyncAsync"/> reads
/// the feed (every revocation whose token has not expired, at most a token lifetime's worth of rows), so a revocation
/// made anywhere is honoured here within one sync interval, whatever the clocks of the other machines. Ids are kept
/// until the token would have expired.
/// </summary>
internal sealed class RevocationService(IRevocationStore store, TimeProvider time)
{
    /// <summary>The list the validator consults.</summary>
    public InMemoryAccessTokenRevocationList List { get; } = new();

    /// <summary>Revokes a token until it expires; durable before it returns.</summary>
    public async Task RevokeAsync(string tokenId, string clientId, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await store.RevokeAsync(new RevokedToken(tokenId, clientId, time.GetUtcNow(), expiresAt), cancellationToken).ConfigureAwait(false);
        List.Revoke(tokenId, expiresAt + AccessTokenValidationOptions.MaximumClockSkew);
    }

    /// <summary>Reads every unexpired revocation, and forgets expired ones.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var revoked in await store.GetUnexpiredAsync(now, cancellationToken).ConfigureAwait(false))
        {
            List.Revoke(revoked.TokenId, revoked.ExpiresAt + AccessTokenValidationOptions.MaximumClockSkew);
        }

        List.Prune(now);
    }
}
