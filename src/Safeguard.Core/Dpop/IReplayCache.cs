namespace Safeguard.Dpop;

/// <summary>
/// Remembers one-time values (DPoP proof ids, client-assertion ids) until they expire, shared by every node, so a
/// value is accepted at most once anywhere.
/// </summary>
public interface IReplayCache
{
    /// <summary>Records a value; false if it was already recorded (a replay).</summary>
    /// <param name="purpose">What the value is (<c>dpop</c>, <c>client_assertion</c>): values of different purposes never collide.</param>
    /// <param name="value">The value (it is hashed before it is stored).</param>
    /// <param name="expiresAt">When the value can be forgotten: after the proof or assertion fails its time checks anyway, plus <see cref="SafeguardLimits.ReplayRetentionMargin"/>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True the first time; false for a replay.</returns>
    /// <exception cref="Exception">The store cannot be reached; callers fail closed.</exception>
    ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>Forgets values that expired before <paramref name="before"/>.</summary>
    /// <param name="before">The cut-off.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were forgotten.</returns>
    Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
