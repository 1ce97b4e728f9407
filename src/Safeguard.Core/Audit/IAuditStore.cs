namespace Safeguard.Audit;

/// <summary>
/// Where audit records are kept. Append-only: there is no update or delete, and implementations make the
/// database itself refuse both. Disposing a store closes its connections.
/// </summary>
public interface IAuditStore : IDisposable
{
    /// <summary>
    /// Takes the exclusive right to append to <paramref name="chain"/> for as long as the returned lease lives, across
    /// processes and nodes (on PostgreSQL a session advisory lock, whose connection then carries the chain's appends;
    /// on SQLite a lock on a file beside the database). The audit writer takes it before it reads the chain's head.
    /// </summary>
    /// <param name="chain">The chain.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The lease; disposing it releases the chain.</returns>
    /// <exception cref="AuditChainInUseException">Another writer holds the chain.</exception>
    Task<IAsyncDisposable> AcquireChainAsync(string chain, CancellationToken cancellationToken);

    /// <summary>The last record of a chain, or null for a new chain.</summary>
    /// <param name="chain">The chain.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The head.</returns>
    Task<AuditChainHead?> GetHeadAsync(string chain, CancellationToken cancellationToken);

    /// <summary>Appends records and checkpoints in one transaction; returns only when it is durable.</summary>
    /// <param name="records">Consecutive records of one chain.</param>
    /// <param name="checkpoints">Checkpoints covering some of them.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once committed.</returns>
    Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken);

    /// <summary>Every chain in the store.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The chain ids.</returns>
    Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken);

    /// <summary>How many records a chain should hold: its highest sequence number (for progress reporting; the verifier counts the real rows).</summary>
    /// <param name="chain">The chain.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The count.</returns>
    Task<long> CountAsync(string chain, CancellationToken cancellationToken);

    /// <summary>
    /// Visits a chain's records in sequence order with their stored bytes only (the verifier's fast path: no
    /// allocation per record). The spans are valid during the call only.
    /// </summary>
    /// <param name="chain">The chain.</param>
    /// <param name="visitor">Called once per record.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>A task that completes after the last record.</returns>
    Task ScanChainAsync(string chain, AuditRowVisitor visitor, CancellationToken cancellationToken);

    /// <summary>Streams a chain's records in sequence order from <paramref name="fromSequence"/>, holding only one batch in memory.</summary>
    /// <param name="chain">The chain.</param>
    /// <param name="fromSequence">The first sequence number wanted (1 for the whole chain).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The records.</returns>
    IAsyncEnumerable<AuditRecord> ReadChainAsync(string chain, long fromSequence, CancellationToken cancellationToken);

    /// <summary>A chain's checkpoints, in sequence order.</summary>
    /// <param name="chain">The chain.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The checkpoints.</returns>
    Task<IReadOnlyList<AuditCheckpoint>> GetCheckpointsAsync(string chain, CancellationToken cancellationToken);
}

/// <summary>Receives one stored record: its sequence number, canonical bytes and stored hash.</summary>
/// <param name="sequence">The sequence column.</param>
/// <param name="body">The canonical event bytes.</param>
/// <param name="hash">The stored hash.</param>
public delegate void AuditRowVisitor(long sequence, ReadOnlySpan<byte> body, ReadOnlySpan<byte> hash);

/// <summary>A copy of every checkpoint kept outside the database, so truncation and a recomputed chain are caught.</summary>
public interface IAuditCheckpointSink
{
    /// <summary>Writes a checkpoint durably.</summary>
    /// <param name="checkpoint">The checkpoint.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when written.</returns>
    Task WriteAsync(AuditCheckpoint checkpoint, CancellationToken cancellationToken);
}
