using System.Collections.Concurrent;

namespace Safeguard.Tokens;

/// <summary>Access-token ids revoked before their expiry (RFC 7009). Consulted on every validation, cached or not.</summary>
public interface IAccessTokenRevocationList
{
    /// <summary>Whether the token with this <c>jti</c> was revoked.</summary>
    /// <param name="tokenId">The token's <c>jti</c>.</param>
    /// <returns>True if revoked.</returns>
    bool IsRevoked(string tokenId);
}

/// <summary>
/// A process-local revocation list. An id is kept until the token it names would have expired (plus clock skew),
/// then dropped by <see cref="Prune"/>; after that the token fails on expiry anyway.
/// </summary>
public sealed class InMemoryAccessTokenRevocationList : IAccessTokenRevocationList
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _revoked = new(StringComparer.Ordinal);

    /// <summary>How many ids are held.</summary>
    public int Count => _revoked.Count;

    /// <summary>Revokes a token id until <paramref name="keepUntil"/>.</summary>
    /// <param name="tokenId">The token's <c>jti</c>.</param>
    /// <param name="keepUntil">The token's expiry plus clock skew.</param>
    public void Revoke(string tokenId, DateTimeOffset keepUntil)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenId);
        _revoked[tokenId] = keepUntil;
    }

    /// <inheritdoc />
    public bool IsRevoked(string tokenId) => _revoked.ContainsKey(tokenId);

    /// <summary>Drops ids whose tokens have expired.</summary>
    /// <param name="now">The current time.</param>
    public void Prune(DateTimeOffset now)
    {
        foreach (var (id, until) in _revoked)
        {
            if (until <= now)
            {
                _revoked.TryRemove(id, out _);
            }
        }
    }
}
