using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

/// <summary>A test double with the store's contract (the EF store is tested against SQLite and PostgreSQL in the server tests).</summary>
internal sealed class InMemoryEnrolmentLinkStore : IEnrolmentLinkStore
{
    private readonly Lock _gate = new();
    private readonly List<EnrolmentLink> _rows = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _rows.Count;
            }
        }
    }

    public Task AddAsync(EnrolmentLink link, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _rows.RemoveAll(l => l.Subject == link.Subject && l.UsedAt is null);
            _rows.Add(link);
            return Task.CompletedTask;
        }
    }

    public Task<EnrolmentLink?> FindAsync(byte[] hash, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.FirstOrDefault(l => l.Hash.AsSpan().SequenceEqual(hash)));
        }
    }

    public Task<bool> TryUseAsync(byte[] hash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var index = _rows.FindIndex(l => l.Hash.AsSpan().SequenceEqual(hash) && l.UsedAt is null && at < l.ExpiresAt);
            if (index < 0)
            {
                return Task.FromResult(false);
            }

            _rows[index] = _rows[index] with { UsedAt = at };
            return Task.FromResult(true);
        }
    }
}
