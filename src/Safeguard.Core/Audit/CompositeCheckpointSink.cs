namespace Safeguard.Audit;

/// <summary>Writes each checkpoint to every sink; one that fails does not keep it from the others (the failures are thrown together).</summary>
public sealed class CompositeCheckpointSink(IReadOnlyList<IAuditCheckpointSink> sinks) : IAuditCheckpointSink, IDisposable
{
    /// <summary>The sinks.</summary>
    public IReadOnlyList<IAuditCheckpointSink> Sinks { get; } = sinks ?? throw new ArgumentNullException(nameof(sinks));

    /// <inheritdoc />
    public async Task WriteAsync(AuditCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        var writes = Sinks.Select(sink => sink.WriteAsync(checkpoint, cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(writes).ConfigureAwait(false);
        }
        catch when (writes.Count(w => w.IsFaulted) > 1)
        {
            throw new AggregateException(writes.Where(w => w.IsFaulted).SelectMany(w => w.Exception!.InnerExceptions));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var sink in Sinks.OfType<IDisposable>())
        {
            sink.Dispose();
        }
    }
}
