using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

/// <summary>A test double with the store's contract (the EF store is tested against SQLite and PostgreSQL in the server tests).</summary>
internal sealed class InMemoryAuthenticatorStore : IAuthenticatorStore
{
    private readonly Lock _gate = new();
    private readonly List<Authenticator> _rows = [];

    public Task<IReadOnlyList<Authenticator>> GetForUserAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<Authenticator>>([.. _rows.Where(a => a.Subject == subject)]);
        }
    }

    public Task AddAsync(IReadOnlyList<Authenticator> authenticators, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _rows.AddRange(authenticators);
        }

        return Task.CompletedTask;
    }

    public Task<bool> TryUseAsync(string id, long counter, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var index = _rows.FindIndex(a => a.Id == id && a.Counter < counter);
            if (index < 0)
            {
                return Task.FromResult(false);
            }

            _rows[index] = _rows[index] with { Counter = counter, Failures = 0, LastUsedAt = at };
            return Task.FromResult(true);
        }
    }

    public Task<int> RecordFailureAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var max = 0;
            for (var i = 0; i < _rows.Count; i++)
            {
                if (ids.Contains(_rows[i].Id))
                {
                    _rows[i] = _rows[i] with { Failures = _rows[i].Failures + 1 };
                    max = Math.Max(max, _rows[i].Failures);
                }
            }

            return Task.FromResult(max);
        }
    }

    public Task<int> RemoveAllAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.RemoveAll(a => a.Subject == subject));
        }
    }

    public Task<Authenticator?> FindByCredentialIdAsync(byte[] credentialId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.FirstOrDefault(a => a.CredentialId is { } id && id.AsSpan().SequenceEqual(credentialId)));
        }
    }

    public Task<bool> TryUsePasskeyAsync(string id, long signCount, bool backedUp, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var index = _rows.FindIndex(a => a.Id == id && a.Kind == AuthenticatorKind.Passkey && (a.Counter < signCount || (a.Counter == 0 && signCount == 0)));
            if (index < 0)
            {
                return Task.FromResult(false);
            }

            _rows[index] = _rows[index] with { Counter = signCount, BackedUp = backedUp, Failures = 0, LastUsedAt = at };
            return Task.FromResult(true);
        }
    }

    public Task<bool> RemoveAsync(string subject, string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_rows.RemoveAll(a => a.Subject == subject && a.Id == id) == 1);
        }
    }
}
