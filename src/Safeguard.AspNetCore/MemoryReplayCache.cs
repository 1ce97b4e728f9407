using System.Collections.Concurrent;
using Safeguard.Dpop;

namespace Safeguard.AspNetCore;

/// <summary>
/// The resource side's DPoP <c>jti</c> cache: in this process's memory, each entry kept until the proof it records
/// would fail its <c>iat</c> check anyway. Entries past their time are pruned as the cache grows. Several instances
/// of one resource behind a load balancer each keep their own (a proof is also bound to its method, URL, token and,
/// with nonces on, a nonce of this process), see docs/resource-server.md.
/// </summary>
internal sealed class MemoryReplayCache(TimeProvider time) : IReplayCache
{
    private const int PruneAbove = 100_000;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _entries = new(StringComparer.Ordinal);
    private long _lastPruneTicks;

    public ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_entries.Count > PruneAbove && now.UtcTicks - Interlocked.Read(ref _lastPruneTicks) > TimeSpan.TicksPerSecond)
        {
            Interlocked.Exchange(ref _lastPruneTicks, now.UtcTicks);
            Prune(now);
        }

        var key = purpose + "\n" + value;
        if (_entries.TryAdd(key, expiresAt))
        {
            return ValueTask.FromResult(true);
        }

        // An entry past its time no longer blocks its value (it would fail the iat check before reaching here).
        return ValueTask.FromResult(_entries.TryGetValue(key, out var until) && until <= now && _entries.TryUpdate(key, expiresAt, until));
    }

    public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) => Task.FromResult(Prune(before));

    private int Prune(DateTimeOffset before)
    {
        var removed = 0;
        foreach (var (key, until) in _entries)
        {
            if (until <= before && _entries.TryRemove(new KeyValuePair<string, DateTimeOffset>(key, until)))
            {
                removed++;
            }
        }

        return removed;
    }
}
