namespace Safeguard.State;

/// <summary>
/// A cluster-wide exclusive lock, so that exactly one node does a piece of shared work (key rotation) at a time.
/// On PostgreSQL a session advisory lock; on SQLite (one node by construction) always granted.
/// </summary>
public interface ILeaderLock
{
    /// <summary>Tries to take the lock named <paramref name="name"/>; null when another node holds it.</summary>
    /// <param name="name">What the lock is for (one name per purpose, for example <c>key-rotation</c>).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>A handle that releases the lock when disposed, or null.</returns>
    Task<IAsyncDisposable?> TryAcquireAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The names of the leader locks Safeguard takes.</summary>
public static class LeaderLocks
{
    /// <summary>Key rotation: one node rotates, the others reload.</summary>
    public const string KeyRotation = "key-rotation";
}
