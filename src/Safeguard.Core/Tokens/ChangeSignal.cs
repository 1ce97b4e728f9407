namespace Safeguard.Tokens;

/// <summary>
/// A signal any number of waiters share: <see cref="Next"/> is a task that the next <see cref="Pulse"/> completes (its
/// continuations run on the thread pool, never inside <see cref="Pulse"/>). The revocation feed's waiting requests and
/// its database listener use it.
/// </summary>
public sealed class ChangeSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A task that completes at the next <see cref="Pulse"/>.</summary>
    public Task Next
    {
        get
        {
            lock (_lock)
            {
                return _next.Task;
            }
        }
    }

    /// <summary>Completes the current <see cref="Next"/> and starts a new one.</summary>
    public void Pulse()
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            previous = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}
