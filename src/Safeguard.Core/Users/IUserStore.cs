namespace Safeguard.Users;

/// <summary>Where users are kept. Users are never deleted, so a subject, username or e-mail address once taken stays taken.</summary>
public interface IUserStore
{
    /// <summary>One user by subject, or null.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The user.</returns>
    Task<User?> FindBySubjectAsync(string subject, CancellationToken cancellationToken);

    /// <summary>One user by username (without regard to case), or null.</summary>
    /// <param name="username">The normalised username (<see cref="Usernames.TryNormalize"/>).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The user.</returns>
    Task<User?> FindByUsernameAsync(string username, CancellationToken cancellationToken);

    /// <summary>Every user, by username.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The users.</returns>
    Task<IReadOnlyList<User>> GetAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Adds a user. A subject, username or e-mail address already taken (even by a disabled user), or a subject equal
    /// to a registered client id, is an error and nothing is written.
    /// </summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the user is durable.</returns>
    /// <exception cref="InvalidOperationException">Something is taken; the message says what.</exception>
    Task AddAsync(User user, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a user's record, only if it is unchanged since <paramref name="seenUpdatedAt"/> (so of two concurrent
    /// changes exactly one wins). The subject and creation time never change.
    /// </summary>
    /// <param name="user">The new record (its <see cref="User.UpdatedAt"/> is the change time).</param>
    /// <param name="seenUpdatedAt">The user's last change as the caller read it.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if replaced; false if the user changed meanwhile or does not exist.</returns>
    /// <exception cref="InvalidOperationException">The new username or e-mail address is taken.</exception>
    Task<bool> UpdateAsync(User user, DateTimeOffset seenUpdatedAt, CancellationToken cancellationToken);

    /// <summary>
    /// Counts a failed sign-in in one statement (concurrent failures on several nodes all count): the failure count
    /// rises by one, the time is recorded, and at <paramref name="lockAfter"/> failures an active user becomes locked.
    /// </summary>
    /// <param name="subject">The user.</param>
    /// <param name="at">When.</param>
    /// <param name="lockAfter">The failure count at which the user is locked.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The count and status after this failure.</returns>
    Task<(int FailedSignIns, UserStatus Status)> RecordSignInFailureAsync(string subject, DateTimeOffset at, int lockAfter, CancellationToken cancellationToken);

    /// <summary>Clears the failure count after a successful sign-in (a no-op when there is none).</summary>
    /// <param name="subject">The user.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the change is durable.</returns>
    Task ResetSignInFailuresAsync(string subject, CancellationToken cancellationToken);

    /// <summary>Replaces the password hash only if it is still <paramref name="previousHash"/> (a rehash at a higher cost must not undo a password change).</summary>
    /// <param name="subject">The user.</param>
    /// <param name="previousHash">The hash the caller verified against.</param>
    /// <param name="newHash">The new hash of the same password.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if replaced.</returns>
    Task<bool> RehashPasswordAsync(string subject, string previousHash, string newHash, CancellationToken cancellationToken);
}
