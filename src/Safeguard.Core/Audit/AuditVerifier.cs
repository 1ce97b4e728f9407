using System.Collections.Concurrent;
using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>What is wrong at a place in the trail.</summary>
public enum AuditProblemKind
{
    /// <summary>An event's bytes no longer hash to its stored hash, or the chain was recomputed after an edit.</summary>
    Modified,

    /// <summary>Events are missing (a gap, or rows deleted and the rest renumbered).</summary>
    Missing,

    /// <summary>An event was inserted that the writer never wrote.</summary>
    Inserted,

    /// <summary>Events are out of their written order.</summary>
    Reordered,

    /// <summary>The trail ends before a signed checkpoint says it reached.</summary>
    Truncated,

    /// <summary>A checkpoint's signature does not verify with a trusted audit key.</summary>
    BadSignature,

    /// <summary>A checkpoint exported outside the database is absent from, or differs from, the database's copy.</summary>
    CheckpointMismatch,
}

/// <summary>One finding: what, where, and the range it may cover.</summary>
/// <param name="Kind">What is wrong.</param>
/// <param name="Sequence">The first sequence number affected.</param>
/// <param name="LastSequence">The last sequence number the finding may cover (the same for a single event).</param>
/// <param name="Detail">A sentence for the auditor.</param>
public sealed record AuditProblem(AuditProblemKind Kind, long Sequence, long LastSequence, string Detail);

/// <summary>The verdict on one chain.</summary>
/// <param name="Chain">The chain.</param>
/// <param name="Events">Records read.</param>
/// <param name="CheckpointsVerified">Checkpoints whose signature verified and whose head matched.</param>
/// <param name="Problems">Every finding, in trail order; the first is where the trail first breaks.</param>
public sealed record AuditChainReport(string Chain, long Events, int CheckpointsVerified, IReadOnlyList<AuditProblem> Problems)
{
    /// <summary>True when nothing is wrong.</summary>
    public bool IsIntact => Problems.Count == 0;
}

/// <summary>The verdict on the whole trail.</summary>
/// <param name="Chains">One report per chain.</param>
public sealed record AuditVerificationReport(IReadOnlyList<AuditChainReport> Chains)
{
    /// <summary>True when every chain is intact.</summary>
    public bool IsIntact => Chains.All(c => c.IsIntact);
}

/// <summary>
/// Streams the whole trail and checks every link, every checkpoint signature, and the checkpoints exported
/// outside the database against the chain. Memory stays bounded: one record (and one look-ahead) at a time, plus
/// the checkpoints. An attacker with the database but not the audit key can edit, delete, insert, reorder,
/// truncate or recompute; each shows up here at its sequence number (a recomputed chain, at the checkpoint
/// interval that contains the edit).
/// </summary>
public sealed class AuditVerifier
{
    private readonly IAuditStore _store;
    private readonly IReadOnlyList<SigningKey> _trustedKeys;
    private readonly IReadOnlyList<AuditCheckpoint> _exported;

    /// <summary>Creates a verifier.</summary>
    /// <param name="store">The trail.</param>
    /// <param name="trustedKeys">The audit public keys, from outside the database.</param>
    /// <param name="exportedCheckpoints">Checkpoints read from the sink outside the database; empty if none.</param>
    public AuditVerifier(IAuditStore store, IReadOnlyList<SigningKey> trustedKeys, IReadOnlyList<AuditCheckpoint>? exportedCheckpoints = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(trustedKeys);
        _store = store;
        _trustedKeys = trustedKeys;
        _exported = exportedCheckpoints ?? [];
    }

    /// <summary>Verifies every chain.</summary>
    /// <param name="progress">Receives the running count of records checked (every 65,536 records).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The report.</returns>
    public async Task<AuditVerificationReport> VerifyAsync(IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var chains = (await _store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
            .Union(_exported.Select(c => c.Chain), StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        var reports = new List<AuditChainReport>(chains.Count);
        long total = 0;
        foreach (var chain in chains)
        {
            var report = await VerifyChainAsync(chain, total, progress, cancellationToken).ConfigureAwait(false);
            total += report.Events;
            reports.Add(report);
        }

        return new AuditVerificationReport(reports);
    }

    private async Task<AuditChainReport> VerifyChainAsync(string chain, long offset, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var problems = new List<AuditProblem>();
        var signed = await LoadCheckpointsAsync(chain, problems, cancellationToken).ConfigureAwait(false);
        var check = new ChainCheck(chain, signed, problems, offset, progress);

        // Two stages on two cores: this thread reads rows from the store into batches; another hashes and
        // checks them. The queue holds at most four batches, so memory stays bounded for any trail length.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var queue = new BlockingCollection<RowBatch>(boundedCapacity: 4);
        var free = new ConcurrentBag<RowBatch>();
        var consumer = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    foreach (var batch in queue.GetConsumingEnumerable(stop.Token))
                    {
                        batch.VisitAll(check.Visit);
                        batch.Clear();
                        free.Add(batch);
                    }
                }
                catch
                {
                    stop.Cancel();
                    throw;
                }
            },
            stop.Token,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        var current = new RowBatch();
        try
        {
            await _store.ScanChainAsync(
                chain,
                (sequence, body, hash) =>
                {
                    if (!current.TryAdd(sequence, body, hash))
                    {
                        queue.Add(current, stop.Token);
                        current = free.TryTake(out var reused) ? reused : new RowBatch();
                        current.TryAdd(sequence, body, hash);
                    }
                },
                stop.Token).ConfigureAwait(false);
            if (current.Count > 0)
            {
                queue.Add(current, stop.Token);
            }
        }
        finally
        {
            queue.CompleteAdding();
        }

        await consumer.ConfigureAwait(false);
        check.Finish();
        return new AuditChainReport(chain, check.Count, check.CheckpointsVerified, [.. problems.OrderBy(p => p.Sequence)]);
    }

    /// <summary>Checks every checkpoint's signature; returns the authentic ones by sequence (database and exported copies merged).</summary>
    private async Task<Dictionary<long, AuditCheckpoint>> LoadCheckpointsAsync(string chain, List<AuditProblem> problems, CancellationToken cancellationToken)
    {
        var signed = new Dictionary<long, AuditCheckpoint>();
        var inDatabase = await _store.GetCheckpointsAsync(chain, cancellationToken).ConfigureAwait(false);
        foreach (var stored in inDatabase)
        {
            var verified = AuditCheckpoints.Verify(stored.Jws, _trustedKeys);
            if (verified is null || verified.Chain != chain || verified.Sequence != stored.Sequence)
            {
                problems.Add(new(AuditProblemKind.BadSignature, stored.Sequence, stored.Sequence,
                    $"The checkpoint at event {stored.Sequence} is not signed by a trusted audit key."));
                continue;
            }

            signed[verified.Sequence] = verified;
        }

        foreach (var exported in _exported.Where(c => c.Chain == chain))
        {
            var verified = AuditCheckpoints.Verify(exported.Jws, _trustedKeys);
            if (verified is null || verified.Chain != chain)
            {
                problems.Add(new(AuditProblemKind.BadSignature, exported.Sequence, exported.Sequence,
                    $"The exported checkpoint at event {exported.Sequence} is not signed by a trusted audit key."));
                continue;
            }

            if (!signed.TryGetValue(verified.Sequence, out var known))
            {
                problems.Add(new(AuditProblemKind.CheckpointMismatch, verified.Sequence, verified.Sequence,
                    $"The exported checkpoint at event {verified.Sequence} is missing from the database."));
                signed[verified.Sequence] = verified;
            }
            else if (!known.HeadHash.AsSpan().SequenceEqual(verified.HeadHash))
            {
                problems.Add(new(AuditProblemKind.CheckpointMismatch, verified.Sequence, verified.Sequence,
                    $"The exported checkpoint at event {verified.Sequence} differs from the database's."));
            }
        }

        return signed;
    }

    /// <summary>Rows copied out of the store: one arena of bytes and the offsets into it.</summary>
    private sealed class RowBatch
    {
        private const int MaxRows = 4096;
        private readonly long[] _sequences = new long[MaxRows];
        private readonly int[] _bodyStarts = new int[MaxRows];
        private readonly int[] _bodyLengths = new int[MaxRows];
        private readonly int[] _hashLengths = new int[MaxRows];
        private byte[] _arena = new byte[MaxRows * 768];
        private int _used;

        public int Count { get; private set; }

        public bool TryAdd(long sequence, ReadOnlySpan<byte> body, ReadOnlySpan<byte> hash)
        {
            var size = body.Length + hash.Length;
            if (Count == MaxRows || (_used + size > _arena.Length && Count > 0))
            {
                return false;
            }

            if (_used + size > _arena.Length)
            {
                _arena = new byte[size];
            }

            _sequences[Count] = sequence;
            _bodyStarts[Count] = _used;
            _bodyLengths[Count] = body.Length;
            _hashLengths[Count] = hash.Length;
            body.CopyTo(_arena.AsSpan(_used));
            hash.CopyTo(_arena.AsSpan(_used + body.Length));
            _used += size;
            Count++;
            return true;
        }

        public void VisitAll(AuditRowVisitor visitor)
        {
            for (var i = 0; i < Count; i++)
            {
                var body = _arena.AsSpan(_bodyStarts[i], _bodyLengths[i]);
                var hash = _arena.AsSpan(_bodyStarts[i] + _bodyLengths[i], _hashLengths[i]);
                visitor(_sequences[i], body, hash);
            }
        }

        public void Clear()
        {
            Count = 0;
            _used = 0;
        }
    }

    /// <summary>
    /// The checks of one chain, fed one stored record at a time. State is a few hashes and counters, so memory
    /// stays flat however long the chain.
    /// </summary>
    private sealed class ChainCheck
    {
        private const int Window = 16;
        private const int MaxProblems = 1000;

        private readonly string _chain;
        private readonly Dictionary<long, AuditCheckpoint> _signed;
        private readonly List<AuditProblem> _problems;
        private readonly long _offset;
        private readonly IProgress<long>? _progress;
        private readonly byte[] _genesis;
        private readonly byte[] _previous = new byte[AuditHash.Size];
        private readonly long[] _recentSequences = new long[Window];
        private readonly byte[][] _recentHashes = [.. Enumerable.Range(0, Window).Select(_ => new byte[AuditHash.Size])];
        private long _expected = 1;
        private long _bodyOffset;
        private long _lastReordered = -1;
        private long _lastGoodCheckpoint;
        private (long Row, long Body, long ExpectedBody)? _pending;

        public ChainCheck(string chain, Dictionary<long, AuditCheckpoint> signed, List<AuditProblem> problems, long offset, IProgress<long>? progress)
        {
            _chain = chain;
            _signed = signed;
            _problems = problems;
            _offset = offset;
            _progress = progress;
            _genesis = AuditHash.Genesis(chain);
            _genesis.CopyTo(_previous, 0);
            Array.Fill(_recentSequences, -1);
        }

        public long Count { get; private set; }

        public int CheckpointsVerified { get; private set; }

        public void Visit(long sequence, ReadOnlySpan<byte> body, ReadOnlySpan<byte> hash)
        {
            Count++;
            if ((Count & 0xFFFF) == 0)
            {
                _progress?.Report(_offset + Count);
            }

            var bodySequence = AuditChainLink.BodySequence(body);
            Resolve(bodySequence);

            if (sequence > _expected)
            {
                Add(AuditProblemKind.Missing, _expected, sequence - 1, $"Events {_expected} to {sequence - 1} are missing from the trail.");
            }

            var predecessor = bodySequence == 1 ? _genesis : Recent(bodySequence - 1);
            var linked = AuditChainLink.Hashes(predecessor ?? _previous, body, hash);
            var expectedBody = sequence + _bodyOffset;
            if (bodySequence != expectedBody)
            {
                if (_lastReordered == sequence - 1 && bodySequence == sequence - 1)
                {
                    Add(AuditProblemKind.Reordered, sequence, sequence, $"Position {sequence} holds the event written as {bodySequence}: the trail was reordered.");
                }
                else if (bodySequence == expectedBody - 1)
                {
                    // This row holds the event that belonged one place earlier: the row before it was inserted.
                    Add(AuditProblemKind.Inserted, sequence - 1, sequence - 1, $"Event {sequence - 1} was inserted: the event written as {bodySequence} now sits at {sequence}.");
                    _bodyOffset--;
                }
                else if (bodySequence == expectedBody + 1)
                {
                    // A deletion with renumbering or the first half of a swap: the next row tells which.
                    _pending = (sequence, bodySequence, expectedBody);
                }
                else
                {
                    Add(AuditProblemKind.Reordered, sequence, sequence, $"Position {sequence} holds the event written as {bodySequence}: the trail was reordered.");
                    _lastReordered = sequence;
                }
            }

            // Whatever the position says, an event whose predecessor is known must link to it.
            if (!linked && predecessor is not null)
            {
                Add(AuditProblemKind.Modified, sequence, sequence, $"Event {sequence} does not hash to its stored value (or does not follow its predecessor, whose hash an attacker may have recomputed): it was modified.");
            }

            // A checkpoint speaks of the event written as that sequence number, wherever it now sits.
            if (_signed.TryGetValue(bodySequence, out var checkpoint))
            {
                if (hash.SequenceEqual(checkpoint.HeadHash))
                {
                    CheckpointsVerified++;
                }
                else
                {
                    Add(AuditProblemKind.Modified, _lastGoodCheckpoint + 1, bodySequence,
                        $"The chain at event {bodySequence} differs from the signed checkpoint: events {_lastGoodCheckpoint + 1} to {bodySequence} were altered and the chain recomputed.");
                }

                _lastGoodCheckpoint = bodySequence;
            }

            // Carry on from the stored hash, so one edit is reported once, not at every later event. A stored
            // hash of the wrong length is itself a finding (the link check above failed), not a crash.
            if (hash.Length == AuditHash.Size)
            {
                hash.CopyTo(_previous);
            }
            else
            {
                _previous.AsSpan().Clear();
            }

            Remember(bodySequence, hash);
            _expected = sequence + 1;
        }

        public void Finish()
        {
            Resolve(null);
            _progress?.Report(_offset + Count);
            // The rows' own sequence numbers, not what a (possibly forged) body claims, mark where the trail ends.
            var last = _expected - 1;
            var beyond = _signed.Keys.Where(s => s > last).DefaultIfEmpty().Max();
            if (beyond > last)
            {
                Add(AuditProblemKind.Truncated, last + 1, beyond, $"A signed checkpoint covers event {beyond}, but the trail ends at {last}: it was truncated.");
            }
        }

        private void Resolve(long? nextBodySequence)
        {
            if (_pending is not { } pending)
            {
                return;
            }

            _pending = null;
            if (nextBodySequence == pending.ExpectedBody)
            {
                Add(AuditProblemKind.Reordered, pending.Row, pending.Row, $"Position {pending.Row} holds the event written as {pending.Body}: the trail was reordered.");
                _lastReordered = pending.Row;
            }
            else
            {
                Add(AuditProblemKind.Missing, pending.Row, pending.Row, $"Event {pending.ExpectedBody} is missing and the events after it were renumbered.");
                _bodyOffset++;
            }
        }

        private byte[]? Recent(long bodySequence)
        {
            var slot = (int)(bodySequence & (Window - 1));
            return bodySequence >= 0 && _recentSequences[slot] == bodySequence ? _recentHashes[slot] : null;
        }

        private void Remember(long bodySequence, ReadOnlySpan<byte> hash)
        {
            if (bodySequence < 0 || hash.Length != AuditHash.Size)
            {
                return;
            }

            var slot = (int)(bodySequence & (Window - 1));
            _recentSequences[slot] = bodySequence;
            hash.CopyTo(_recentHashes[slot]);
        }

        private void Add(AuditProblemKind kind, long sequence, long last, string detail)
        {
            // Bounded: after 1,000 findings in a chain (a mass renumbering, say) the rest are counted, not kept.
            if (_problems.Count < MaxProblems)
            {
                _problems.Add(new AuditProblem(kind, sequence, last, $"{_chain}: {detail}"));
            }
            else if (_problems.Count == MaxProblems)
            {
                _problems.Add(new AuditProblem(kind, sequence, long.MaxValue, $"{_chain}: more than {MaxProblems} findings; the rest of the chain is not itemised. The trail is not intact from event {_problems[0].Sequence}."));
            }
        }
    }
}
