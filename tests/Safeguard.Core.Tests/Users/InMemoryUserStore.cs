using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

/// <summary>A test double with the user store's contract (the EF store is tested against SQLite and PostgreSQL in the server tests).</summary>
internal sealed class InMemoryUserStore : IUserStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, User> _users = new(StringComparer.Ordinal);

    public User this[string subject]
    {
        get
        {
            lock (_gate)
            {
                return _users[subject];
            }
        }
    }

    public Task<User?> FindBySubjectAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_users.GetValueOrDefault(subject));
        }
    }

    public Task<User?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_users.Values.FirstOrDefault(u => Usernames.Key(u.Username) == Usernames.Key(username)));
        }
    }

    public Task<IReadOnlyList<User>> GetAllAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<User>>([.. _users.Values]);
        }
    }

    public Task AddAsync(User user, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _users.Add(user.Subject, user);
        }

        return Task.CompletedTask;
    }

    public Task<bool> UpdateAsync(User user, DateTimeOffset seenUpdatedAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_users.TryGetValue(user.Subject, out var current) || current.UpdatedAt != seenUpdatedAt)
            {
                return Task.FromResult(false);
            }

            _users[user.Subject] = user;
            return Task.FromResult(true);
        }
    }

    public Task<(int FailedSignIns, UserStatus Status)> RecordSignInFailureAsync(string subject, DateTimeOffset at, int lockAfter, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var user = _users[subject];
            var failures = user.FailedSignIns + 1;
            var status = user.Status == UserStatus.Active && failures >= lockAfter ? UserStatus.Locked : user.Status;
            _users[subject] = user with { FailedSignIns = failures, LastFailedSignInAt = at, Status = status };
            return Task.FromResult((failures, status));
        }
    }

    public Task ResetSignInFailuresAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _users[subject] = _users[subject] with { FailedSignIns = 0, LastFailedSignInAt = null };
        }

        return Task.CompletedTask;
    }

    public Task<bool> RehashPasswordAsync(string subject, string previousHash, string newHash, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_users[subject].PasswordHash != previousHash)
            {
                return Task.FromResult(false);
            }

            _users[subject] = _users[subject] with { PasswordHash = newHash };
            return Task.FromResult(true);
        }
    }
}
