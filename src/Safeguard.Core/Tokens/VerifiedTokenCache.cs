using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Safeguard.Tokens;

/// <summary>
/// Tokens whose signature verified, keyed by SHA-256 of the whole token (the token itself is not kept as a key).
/// Bounded: when full, expired entries are swept and, if it is still full, new tokens are simply not cached.
/// Only the validator adds entries, and only after the signature and every policy check passed, so forged
/// tokens never enter it.
/// </summary>
internal sealed class VerifiedTokenCache
{
    private readonly ConcurrentDictionary<TokenHash, ValidatedAccessToken> _entries = new();
    private readonly int _capacity;
    private readonly TimeSpan _skew;
    private int _count;
    private long _nextSweepTicks;

    public VerifiedTokenCache(int capacity, TimeSpan skew)
    {
        _capacity = capacity;
        _skew = skew;
    }

    public int Count => Volatile.Read(ref _count);

    public static TokenHash Hash(ReadOnlySpan<byte> token)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Safeguard.Audit.Sha256.Hash(token, digest);
        return new TokenHash(
            BinaryPrimitives.ReadUInt64LittleEndian(digest),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(digest[24..]));
    }

    public bool TryGet(in TokenHash hash, out ValidatedAccessToken token) => _entries.TryGetValue(hash, out token!);

    public void Add(in TokenHash hash, ValidatedAccessToken token, DateTimeOffset now)
    {
        if (Count >= _capacity)
        {
            SweepExpired(now);
            if (Count >= _capacity)
            {
                return;
            }
        }

        if (_entries.TryAdd(hash, token))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void Remove(in TokenHash hash)
    {
        if (_entries.TryRemove(hash, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Drops every token a key verified: called the moment that key is revoked.</summary>
    public void RemoveKey(string keyId)
    {
        foreach (var (hash, token) in _entries)
        {
            if (string.Equals(token.KeyId, keyId, StringComparison.Ordinal))
            {
                Remove(hash);
            }
        }
    }

    private void SweepExpired(DateTimeOffset now)
    {
        // At most one sweep a second, so a full cache under load does not turn every miss into a scan.
        var next = Interlocked.Read(ref _nextSweepTicks);
        if (now.UtcTicks < next || Interlocked.CompareExchange(ref _nextSweepTicks, now.UtcTicks + TimeSpan.TicksPerSecond, next) != next)
        {
            return;
        }

        foreach (var (hash, token) in _entries)
        {
            if (token.ExpiresAt is not { } expires || expires + _skew <= now)
            {
                Remove(hash);
            }
        }
    }

    internal readonly record struct TokenHash(ulong A, ulong B, ulong C, ulong D);
}
