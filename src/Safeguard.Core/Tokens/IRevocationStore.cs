namespace Safeguard.Tokens;

/// <summary>A revoked access-token id as nodes and, through the revocation feed, resource servers receive it.</summary>
/// <param name="TokenId">The token's <c>jti</c>.</param>
/// <param name="ClientId">The client it was issued to.</param>
/// <param name="RevokedAt">When it was revoked.</param>
/// <param name="ExpiresAt">When the token expires (the id is kept until then).</param>
public sealed record RevokedToken(string TokenId, string ClientId, DateTimeOffset RevokedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// Where revocations are kept, shared by every node: written before a revocation is acknowledged, read back as a
/// feed of every revocation whose token has not expired (a token lifetime's worth of rows at most), so a node or
/// resource server that reads it is in step whatever the clocks of the machines that wrote it.
/// </summary>
public interface IRevocationStore
{
    /// <summary>Records a revocation; revoking an id twice keeps the first record.</summary>
    /// <param name="token">The revocation.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the revocation is durable.</returns>
    Task RevokeAsync(RevokedToken token, CancellationToken cancellationToken);

    /// <summary>The feed: every revocation whose token has not expired at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The revocations.</returns>
    Task<IReadOnlyList<RevokedToken>> GetUnexpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Deletes revocations of tokens that expired before <paramref name="before"/>.</summary>
    /// <param name="before">The cut-off.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were deleted.</returns>
    Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
