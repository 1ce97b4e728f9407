using System.Buffers.Text;
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

        var previous = AuditHash.Genesis(chain);
        var computed = new byte[AuditHash.Size];
        var expected = 1L;
        var bodyOffset = 0L;
        var lastGoodCheckpoint = 0L;
        var highestWritten = 0L;
        var checkpointsVerified = 0;
        long count = 0;

        var rows = _store.ReadChainAsync(chain, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var rowsScope = rows.ConfigureAwait(false);

        // The stored hash of the last few events by the sequence their bytes say, so that after a reorder or
        // an insertion each event is still checked against its true predecessor. Bounded: 16 entries.
        var recent = new Dictionary<long, byte[]>();
        var lastReordered = -1L;
        var next = await rows.MoveNextAsync().ConfigureAwait(false) ? rows.Current : null;
        while (next is not null)
        {
            var row = next;
            next = await rows.MoveNextAsync().ConfigureAwait(false) ? rows.Current : null;
            count++;
            if ((count & 0xFFFF) == 0)
            {
                progress?.Report(offset + count);
            }

            if (row.Sequence > expected)
            {
                problems.Add(new(AuditProblemKind.Missing, expected, row.Sequence - 1,
                    $"Events {expected} to {row.Sequence - 1} are missing from the trail."));
            }

            var bodySequence = BodySequence(row.Body);
            var predecessorKnown = bodySequence == 1 || recent.ContainsKey(bodySequence - 1);
            var predecessor = bodySequence == 1 ? AuditHash.Genesis(chain) : recent.GetValueOrDefault(bodySequence - 1, previous);
            AuditHash.Next(predecessor, row.Body, computed);
            var linked = computed.AsSpan().SequenceEqual(row.Hash);
            var expectedBody = row.Sequence + bodyOffset;
            if (bodySequence != expectedBody)
            {
                if (lastReordered == row.Sequence - 1 && bodySequence == row.Sequence - 1)
                {
                    problems.Add(new(AuditProblemKind.Reordered, row.Sequence, row.Sequence,
                        $"Position {row.Sequence} holds the event written as {bodySequence}: the trail was reordered."));
                }
                else if (bodySequence == expectedBody - 1)
                {
                    // This row holds the event that belonged one place earlier: the row before it was inserted.
                    problems.Add(new(AuditProblemKind.Inserted, row.Sequence - 1, row.Sequence - 1,
                        $"Event {row.Sequence - 1} was inserted: the event written as {bodySequence} now sits at {row.Sequence}."));
                    bodyOffset--;
                }
                else if (bodySequence == expectedBody + 1 && (next is null || BodySequence(next.Body) != expectedBody))
                {
                    problems.Add(new(AuditProblemKind.Missing, row.Sequence, row.Sequence,
                        $"Event {expectedBody} is missing and the events after it were renumbered."));
                    bodyOffset++;
                }
                else
                {
                    problems.Add(new(AuditProblemKind.Reordered, row.Sequence, row.Sequence,
                        $"Position {row.Sequence} holds the event written as {bodySequence}: the trail was reordered."));
                    lastReordered = row.Sequence;
                }
            }
            else if (!linked && predecessorKnown)
            {
                problems.Add(new(AuditProblemKind.Modified, row.Sequence, row.Sequence,
                    $"Event {row.Sequence} does not hash to its stored value (or does not follow event {row.Sequence - 1}): it was modified."));
            }

            // A checkpoint speaks of the event written as that sequence number, wherever it now sits.
            if (signed.TryGetValue(bodySequence, out var checkpoint))
            {
                if (row.Hash.AsSpan().SequenceEqual(checkpoint.HeadHash))
                {
                    checkpointsVerified++;
                    lastGoodCheckpoint = bodySequence;
                }
                else
                {
                    problems.Add(new(AuditProblemKind.Modified, lastGoodCheckpoint + 1, bodySequence,
                        $"The chain at event {bodySequence} differs from the signed checkpoint: events {lastGoodCheckpoint + 1} to {bodySequence} were altered and the chain recomputed."));
                    lastGoodCheckpoint = bodySequence;
                }
            }

            highestWritten = Math.Max(highestWritten, bodySequence);
            // Carry on from the stored hash, so one edit is reported once, not at every later event.
            previous = row.Hash;
            recent[bodySequence] = row.Hash;
            recent.Remove(bodySequence - 16);
            expected = row.Sequence + 1;
        }

        progress?.Report(offset + count);
        var last = Math.Max(expected - 1, highestWritten);
        var beyond = signed.Keys.Where(s => s > last).DefaultIfEmpty().Max();
        if (beyond > last)
        {
            problems.Add(new(AuditProblemKind.Truncated, last + 1, beyond,
                $"A signed checkpoint covers event {beyond}, but the trail ends at {last}: it was truncated."));
        }

        return new AuditChainReport(chain, count, checkpointsVerified, [.. problems.OrderBy(p => p.Sequence)]);
    }

    /// <summary>Checks every checkpoint's signature; returns the authentic ones by sequence (database and exported copies merged).</summary>
    private async Task<Dictionary<long, AuditCheckpoint>> LoadCheckpointsAsync(string chain, List<AuditProblem> problems, CancellationToken cancellationToken)
    {
        var signed = new Dictionary<long, AuditCheckpoint>();
        var inDatabase = await _store.GetCheckpointsAsync(chain, cancellationToken).ConfigureAwait(false);
        foreach (var stored in inDatabase)
        {
            var verified = await AuditCheckpoints.VerifyAsync(stored.Jws, _trustedKeys).ConfigureAwait(false);
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
            var verified = await AuditCheckpoints.VerifyAsync(exported.Jws, _trustedKeys).ConfigureAwait(false);
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

    /// <summary>
    /// The <c>seq</c> member of a canonical event, read without parsing: members are sorted and <c>seq</c> is
    /// never first, so it is the only place the bytes <c>,"seq":</c> occur (inside a string a quote is escaped).
    /// </summary>
    internal static long BodySequence(ReadOnlySpan<byte> body)
    {
        var at = body.IndexOf(",\"seq\":"u8);
        if (at < 0)
        {
            return -1;
        }

        return Utf8Parser.TryParse(body[(at + 7)..], out long value, out _) ? value : -1;
    }
}
