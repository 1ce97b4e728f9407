namespace Safeguard.Keys;

/// <summary>A key entered a new state: created (pending or active), activated, retired, removed or revoked.</summary>
/// <param name="keyId">The key id.</param>
/// <param name="algorithm">The key's algorithm.</param>
/// <param name="state">The state entered.</param>
/// <param name="created">True when the key was just created.</param>
/// <param name="at">When the ring observed the change.</param>
public sealed class KeyLifecycleEventArgs(string keyId, string algorithm, KeyState state, bool created, DateTimeOffset at) : EventArgs
{
    /// <summary>The key id.</summary>
    public string KeyId { get; } = keyId;

    /// <summary>The key's algorithm.</summary>
    public string Algorithm { get; } = algorithm;

    /// <summary>The state entered.</summary>
    public KeyState State { get; } = state;

    /// <summary>True when the key was just created (its state is then pending, or active for a first or emergency key).</summary>
    public bool Created { get; } = created;

    /// <summary>When the ring observed the change.</summary>
    public DateTimeOffset At { get; } = at;
}
