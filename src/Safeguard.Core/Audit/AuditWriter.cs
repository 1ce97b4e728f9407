using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Safeguard.Audit;

/// <summary>
/// The one writer of a node's audit chain. Producers never block on I/O: events go through a bounded queue to a
/// sealing stage (sequence number, canonical bytes, chain hash) and then to a commit stage that group-commits
/// each batch in one transaction; the next batch is sealed while the previous one is being made durable. A
/// caller that needs durability awaits <see cref="AppendAsync(AuditEvent, CancellationToken)"/>, which completes only once its event is
/// committed and fails with <see cref="AuditUnavailableException"/> when the queue is full or the store cannot
/// be written. Signed checkpoints are written every N events or T seconds and copied to a sink outside the
/// database.
/// </summary>
public sealed partial class AuditWriter : IAsyncDisposable
{
    private const int MaxRetained = 65_536;

    private readonly IAuditStore _store;
    private readonly AuditSigningKeys _keys;
    private readonly IAuditCheckpointSink? _sink;
    private readonly AuditOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditWriter> _logger;
    private readonly Channel<Pending> _queue;
    private readonly Channel<SealedBatch> _sealed = Channel.CreateBounded<SealedBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
    private readonly ConcurrentQueue<Pending> _retry = new();
    private readonly CanonicalBuffer _buffer = new(2048);
    private readonly Lock _headLock = new();
    private Task? _sealing;
    private List<Pending>? _inHand;
    private readonly List<Task> _exports = [];
    private Task? _committing;
    private IAsyncDisposable? _lease;

    // Guarded by _headLock. "Sealed" runs ahead of "committed" by at most the batches in flight; a failed
    // commit bumps the epoch, and every batch sealed on top of it is discarded and its events retried.
    private Head _sealedHead;
    private Head _committedHead;
    private int _epoch;

    // Events someone awaits that are queued and not yet drained. While there are none, a commit may wait for more
    // (UnawaitedCommitDelay); the first awaited event ends the wait through _holdWake.
    private int _awaitedQueued;
    private TaskCompletionSource? _holdWake;
    private long _lastSealStarted;

    private int _consecutiveFailures;
    private volatile bool _healthy = true;
    private volatile bool _running;

    /// <summary>Creates a writer. Call <see cref="StartAsync"/> before appending.</summary>
    /// <param name="store">The audit store.</param>
    /// <param name="keys">The audit signing key (checkpoints).</param>
    /// <param name="sink">Where checkpoints are copied outside the database; null to keep them in the database only.</param>
    /// <param name="options">Queue, batch and checkpoint settings.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The operational log.</param>
    public AuditWriter(
        IAuditStore store,
        AuditSigningKeys keys,
        IAuditCheckpointSink? sink,
        IOptions<AuditOptions> options,
        TimeProvider timeProvider,
        ILogger<AuditWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _keys = keys;
        _sink = sink;
        _options = OptionsGuard.Validated(new AuditOptionsValidator(), options);
        _time = timeProvider;
        _logger = logger;
        Chain = _options.ResolveChainId();
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>This writer's chain.</summary>
    public string Chain { get; }

    /// <summary>Whether the writer accepts events.</summary>
    public bool IsRunning => _running;

    /// <summary>Events waiting in the queue (not yet sealed into a batch).</summary>
    public int QueuedEvents => _queue.Reader.Count;

    /// <summary>False while the last commit failed: the readiness probe and alarms read this.</summary>
    public bool IsHealthy => _healthy && _running;

    /// <summary>The sequence number of the last committed event.</summary>
    public long CommittedSequence
    {
        get
        {
            lock (_headLock)
            {
                return _committedHead.Sequence;
            }
        }
    }

    /// <summary>
    /// Takes the chain's lease (a second writer on the chain refuses to start), loads the chain head and the audit key,
    /// then starts the sealing and commit stages.
    /// </summary>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>A task that completes when the writer accepts events.</returns>
    /// <exception cref="AuditChainInUseException">Another process writes this chain.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_running)
        {
            throw new InvalidOperationException("The audit writer is already running.");
        }

        _lease = await _store.AcquireChainAsync(Chain, cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadHeadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ReleaseLeaseAsync().ConfigureAwait(false);
            throw;
        }

        _sealedHead = _committedHead;
        _running = true;
        _committing = Task.Run(CommitLoopAsync, CancellationToken.None);
        _sealing = Task.Run(SealLoopAsync, CancellationToken.None);
    }

    private async Task LoadHeadAsync(CancellationToken cancellationToken)
    {
        await _keys.LoadAsync(createIfMissing: true, cancellationToken).ConfigureAwait(false);
        var head = await _store.GetHeadAsync(Chain, cancellationToken).ConfigureAwait(false);
        var checkpoints = await _store.GetCheckpointsAsync(Chain, cancellationToken).ConfigureAwait(false);

        // Each checkpoint is followed at once by its marker event, which opens the next Merkle interval.
        var intervalStart = checkpoints.Count > 0 ? checkpoints[^1].Sequence + 1 : 1;
        var frontier = Array.Empty<byte[]>();
        var leaves = 0L;
        await foreach (var record in _store.ReadChainAsync(Chain, intervalStart, cancellationToken).ConfigureAwait(false))
        {
            frontier = AuditMerkle.Append(frontier, leaves++, AuditMerkle.LeafHash(record.Hash));
        }

        _committedHead = new Head(
            head?.Sequence ?? 0,
            head?.Hash ?? AuditHash.Genesis(Chain),
            checkpoints.Count > 0 ? checkpoints[^1].Sequence + 1 : 0,
            _time.GetUtcNow(),
            intervalStart,
            frontier);
    }

    private async Task ReleaseLeaseAsync()
    {
        var lease = Interlocked.Exchange(ref _lease, null);
        if (lease is not null)
        {
            await lease.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Appends an event and completes once it is durable. Fails with <see cref="AuditUnavailableException"/>
    /// (never blocking) when the queue is full, the writer is stopped, or the store cannot be written.
    /// </summary>
    /// <param name="auditEvent">The event (chain and sequence are assigned here).</param>
    /// <param name="cancellationToken">Stops waiting; the event may still be committed.</param>
    /// <returns>The committed sequence number.</returns>
    public Task<long> AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken) =>
        AppendAsync(auditEvent, AuditPriority.Normal, cancellationToken);

    /// <summary>
    /// Appends an event and completes once it is durable. An event of <see cref="AuditPriority.Low"/> priority (a refusal
    /// of an unauthenticated request) is refused once the queue is three quarters full, so that a flood of refusals
    /// cannot take the room that issuance, changes and PHI access need.
    /// </summary>
    /// <param name="auditEvent">The event (chain and sequence are assigned here).</param>
    /// <param name="priority">Its priority.</param>
    /// <param name="cancellationToken">Stops waiting; the event may still be committed.</param>
    /// <returns>The committed sequence number.</returns>
    public async Task<long> AppendAsync(AuditEvent auditEvent, AuditPriority priority, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        CheckEvent(auditEvent);
        if (priority == AuditPriority.Low && _queue.Reader.Count >= LowPriorityLimit)
        {
            throw new AuditUnavailableException(SafeguardErrorCodes.AuditQueueFull,
                $"The audit queue holds {_queue.Reader.Count} events; its last quarter is kept for issuance and changes.");
        }

        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _awaitedQueued);
        try
        {
            Enqueue(new Pending(auditEvent, done), throwWhenRefused: true);
        }
        catch
        {
            Interlocked.Decrement(ref _awaitedQueued);
            throw;
        }

        Volatile.Read(ref _holdWake)?.TrySetResult();
        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many events may wait before low-priority ones are refused: three quarters of the queue.</summary>
    private int LowPriorityLimit => Math.Max(1, _options.QueueCapacity / 4 * 3);

    /// <summary>Queues an event without waiting for it to be durable. False (and an operational alarm) if it was refused.</summary>
    /// <param name="auditEvent">The event.</param>
    /// <returns>True if queued.</returns>
    public bool TryAppend(AuditEvent auditEvent) => TryAppend(auditEvent, AuditPriority.Normal);

    /// <summary>
    /// Queues an event without waiting for it to be durable. An event of <see cref="AuditPriority.Low"/> priority is
    /// refused once the queue is three quarters full, as with <see cref="AppendAsync(AuditEvent, AuditPriority, CancellationToken)"/>.
    /// </summary>
    /// <param name="auditEvent">The event.</param>
    /// <param name="priority">Its priority.</param>
    /// <returns>True if queued.</returns>
    public bool TryAppend(AuditEvent auditEvent, AuditPriority priority)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        CheckEvent(auditEvent);
        if (priority == AuditPriority.Low && _queue.Reader.Count >= LowPriorityLimit)
        {
            return false;
        }

        return Enqueue(new Pending(auditEvent, null), throwWhenRefused: false);
    }

    /// <summary>An event the sealing stage could not write is refused at the door, never inside the writer.</summary>
    private static void CheckEvent(AuditEvent e)
    {
        if (string.IsNullOrEmpty(e.EventId) || !Enum.IsDefined(e.Type) || !Enum.IsDefined(e.Outcome)
            || (e.Action is { } action && !Enum.IsDefined(action)) || e.Amr is null || e.Changes is null
            || e.Amr.Any(a => a is null) || e.Changes.Any(c => c is null || c.Field is null))
        {
            throw new ArgumentException("The audit event is incomplete: it needs an event id, a defined type, outcome and action, and non-null amr and changes lists.", nameof(e));
        }
    }

    /// <summary>Stops accepting events, commits what is queued, writes a final checkpoint and stops.</summary>
    /// <returns>A task that completes when both stages have ended.</returns>
    public async Task StopAsync()
    {
        if (!_running)
        {
            // Never started, already stopped, or crashed. After a crash the commit stage ends by itself (its input is
            // completed or it crashed); only once it has can no commit race a writer that takes the chain next.
            if (_committing is not null)
            {
                await _committing.ConfigureAwait(false);
            }

            await ReleaseLeaseAsync().ConfigureAwait(false);
            return;
        }

        _running = false;
        _queue.Writer.TryComplete();
        Volatile.Read(ref _holdWake)?.TrySetResult();
        if (_sealing is not null)
        {
            await _sealing.ConfigureAwait(false);
        }

        if (_committing is not null)
        {
            await _committing.ConfigureAwait(false);
        }

        // Whatever a store that stayed down left behind is failed, loudly, rather than silently dropped.
        var leftover = 0;
        var stopped = new AuditUnavailableException(SafeguardErrorCodes.AuditWriterStopped, "The audit writer stopped before this event could be made durable.");
        while (_retry.TryDequeue(out var pending))
        {
            pending.Done?.TrySetException(stopped);
            leftover++;
        }

        if (leftover > 0)
        {
            LogStoppedWithLeftovers(leftover);
        }

        Task[] exports;
        lock (_exports)
        {
            exports = [.. _exports];
        }

        await Task.WhenAny(Task.WhenAll(exports), Task.Delay(TimeSpan.FromSeconds(10), _time)).ConfigureAwait(false);
        await ReleaseLeaseAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private bool Enqueue(Pending pending, bool throwWhenRefused)
    {
        if (!_running)
        {
            if (throwWhenRefused)
            {
                throw new AuditUnavailableException(SafeguardErrorCodes.AuditWriterStopped, "The audit writer is not running.");
            }

            return false;
        }

        if (_queue.Writer.TryWrite(pending))
        {
            return true;
        }

        LogQueueFull(_options.QueueCapacity);
        if (throwWhenRefused)
        {
            throw new AuditUnavailableException(SafeguardErrorCodes.AuditQueueFull, $"The audit queue is full ({_options.QueueCapacity} events waiting).");
        }

        return false;
    }

    private async Task SealLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            await SealUntilStoppedAsync(reader).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug or an unusable audit key: stop accepting events and tell every waiting caller, never hang.
            Crash(ex, _inHand);
        }
        finally
        {
            _sealed.Writer.TryComplete();
        }
    }

    private async Task SealUntilStoppedAsync(ChannelReader<Pending> reader)
    {
        {
            while (true)
            {
                var wait = reader.WaitToReadAsync().AsTask();
                using var timer = new CancellationTokenSource();
                var delay = Task.Delay(CheckpointDueIn(), _time, timer.Token);
                var first = await Task.WhenAny(wait, delay).ConfigureAwait(false);
                await timer.CancelAsync().ConfigureAwait(false);
                if (first == wait && !await wait.ConfigureAwait(false))
                {
                    break;
                }

                // Seal only once the commit stage can take the batch: everything that arrives while a commit runs
                // then goes into the next single batch (one transaction, one fsync), instead of the first arrival
                // being sealed alone into a batch of one while the rest waits for a third commit.
                await _sealed.Writer.WaitToWriteAsync().ConfigureAwait(false);
                await HoldUnawaitedAsync(reader).ConfigureAwait(false);
                _lastSealStarted = _time.GetTimestamp();
                var batch = Drain(reader);
                if (batch.Count > 0 || CheckpointDue())
                {
                    await SealAndPostAsync(batch, forceCheckpoint: false).ConfigureAwait(false);
                }
            }

            // Stopping: wait for commits in flight (a failure puts events back for retry), then seal what is
            // left, batch by batch, with a final checkpoint so the tail is covered by a signature. A store that
            // stays down gets a few rounds; what is still held after them is failed by StopAsync, never dropped.
            for (var round = 0; round < 8; round++)
            {
                await WaitForCommitsAsync().ConfigureAwait(false);
                var rest = Drain(reader);
                var last = _retry.IsEmpty && !reader.TryPeek(out _);
                if (rest.Count == 0 && !CheckpointDue(force: true))
                {
                    break;
                }

                await SealAndPostAsync(rest, forceCheckpoint: last).ConfigureAwait(false);
            }

            await WaitForCommitsAsync().ConfigureAwait(false);
        }
    }

    private void Crash(Exception ex, List<Pending>? inHand = null)
    {
        _running = false;
        _healthy = false;
        _queue.Writer.TryComplete();
        LogCrashed(ex);
        var failure = new AuditUnavailableException(SafeguardErrorCodes.AuditWriterStopped, "The audit writer stopped on an internal error; the event is not durable.", ex);
        foreach (var pending in inHand ?? [])
        {
            pending.Done?.TrySetException(failure);
        }

        while (_retry.TryDequeue(out var retried))
        {
            retried.Done?.TrySetException(failure);
        }

        while (_queue.Reader.TryRead(out var queued))
        {
            queued.Done?.TrySetException(failure);
        }

        while (_sealed.Reader.TryRead(out var batch))
        {
            foreach (var pending in batch.Events)
            {
                pending.Done?.TrySetException(failure);
            }
        }
    }

    private List<Pending> Drain(ChannelReader<Pending> reader)
    {
        var batch = new List<Pending>(Math.Min(_options.MaxBatchSize, 1024));
        while (batch.Count < _options.MaxBatchSize && _retry.TryDequeue(out var retried))
        {
            batch.Add(retried);
        }

        var awaited = 0;
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var pending))
        {
            batch.Add(pending);
            awaited += pending.Done is null ? 0 : 1;
        }

        Interlocked.Add(ref _awaitedQueued, -awaited);
        return batch;
    }

    /// <summary>
    /// While only events nobody awaits are queued, waits until <see cref="AuditOptions.UnawaitedCommitDelay"/> after the
    /// previous batch was taken, so that one commit takes what arrives meanwhile. An awaited event or a stop ends the wait
    /// at once; events put back for retry, or a batch already full, are not held.
    /// </summary>
    private async Task HoldUnawaitedAsync(ChannelReader<Pending> reader)
    {
        var hold = _options.UnawaitedCommitDelay - _time.GetElapsedTime(_lastSealStarted);
        if (_options.UnawaitedCommitDelay <= TimeSpan.Zero || hold <= TimeSpan.Zero || !_retry.IsEmpty)
        {
            return;
        }

        var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A full fence: the check below must not be read before the wake is visible to AppendAsync.
        Interlocked.Exchange(ref _holdWake, wake);
        try
        {
            // Checked after the wake is published, so an awaited event enqueued meanwhile is never held.
            if (Volatile.Read(ref _awaitedQueued) == 0 && _running && reader.Count < _options.MaxBatchSize)
            {
                using var timer = new CancellationTokenSource();
                var delay = Task.Delay(hold, _time, timer.Token);
                if (await Task.WhenAny(wake.Task, delay).ConfigureAwait(false) != delay)
                {
                    await timer.CancelAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _holdWake, null);
        }
    }

    private async Task WaitForCommitsAsync()
    {
        while (true)
        {
            lock (_headLock)
            {
                if (_committedHead.Sequence == _sealedHead.Sequence)
                {
                    return;
                }
            }

            await Task.Delay(5, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private TimeSpan CheckpointDueIn()
    {
        DateTimeOffset last;
        lock (_headLock)
        {
            last = _sealedHead.LastCheckpointTime;
        }

        if (!_retry.IsEmpty)
        {
            // Events put back for retry do not signal the queue: look again shortly.
            return TimeSpan.FromMilliseconds(20);
        }

        var due = last + _options.CheckpointInterval - _time.GetUtcNow();

        // Nothing written since the last checkpoint: nothing to sign, so wait a whole interval rather than spin.
        return due < TimeSpan.FromMilliseconds(1) ? (CheckpointDue() ? TimeSpan.FromMilliseconds(1) : _options.CheckpointInterval) : due;
    }

    private bool CheckpointDue(bool force = false)
    {
        lock (_headLock)
        {
            return _sealedHead.Sequence > _sealedHead.Marker
                && (force || _time.GetUtcNow() >= _sealedHead.LastCheckpointTime + _options.CheckpointInterval);
        }
    }

    private async Task SealAndPostAsync(List<Pending> batch, bool forceCheckpoint)
    {
        _inHand = batch;
        Head head;
        int epoch;
        lock (_headLock)
        {
            head = _sealedHead;
            epoch = _epoch;
        }

        var sequence = head.Sequence;
        var previous = head.Hash;
        var marker = head.Marker;
        var interval = new Interval(head.IntervalStart, head.Frontier);
        var records = new List<AuditRecord>(batch.Count + 2);
        var sequences = new long[batch.Count];
        var checkpoints = new List<AuditCheckpoint>(1);
        var now = _time.GetUtcNow();
        for (var i = 0; i < batch.Count; i++)
        {
            // Checkpoint markers interleave with the events: remember each event's own sequence number.
            sequences[i] = ++sequence;
            previous = Seal(batch[i].Event, sequence, previous, records);
            interval.Add(sequence, previous);
            if (sequence - marker >= _options.CheckpointEveryEvents)
            {
                (sequence, previous) = AddCheckpoint(sequence, previous, now, records, checkpoints, interval);
                marker = sequence;
            }
        }

        // Time-driven (or final) checkpoint: only when events were written after the last marker.
        var timeDue = now >= head.LastCheckpointTime + _options.CheckpointInterval;
        if ((forceCheckpoint || timeDue) && sequence > marker)
        {
            (sequence, previous) = AddCheckpoint(sequence, previous, now, records, checkpoints, interval);
            marker = sequence;
        }

        if (records.Count == 0)
        {
            return;
        }

        var sealedHead = new Head(sequence, previous, marker, checkpoints.Count > 0 ? now : head.LastCheckpointTime, interval.Start, interval.Frontier);
        lock (_headLock)
        {
            if (epoch != _epoch)
            {
                // A commit failed while this batch was being sealed on top of it: seal it again later.
                Requeue(batch);
                return;
            }

            _sealedHead = sealedHead;
        }

        await _sealed.Writer.WriteAsync(new SealedBatch(epoch, batch, sequences, records, checkpoints, sealedHead)).ConfigureAwait(false);
        _inHand = null;
    }

    private async Task CommitLoopAsync()
    {
        try
        {
            await CommitUntilCompletedAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Crash(ex);
        }
    }

    private async Task CommitUntilCompletedAsync()
    {
        await foreach (var batch in _sealed.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            lock (_headLock)
            {
                if (batch.Epoch != _epoch)
                {
                    Requeue(batch.Events);
                    continue;
                }
            }

            try
            {
                await _store.AppendAsync(batch.Records, batch.Checkpoints, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Fail(batch.Events, ex);
                await Task.Delay(Backoff(), _time, CancellationToken.None).ConfigureAwait(false);
                await CheckHeadAfterFailureAsync().ConfigureAwait(false);
                continue;
            }

            lock (_headLock)
            {
                _committedHead = batch.Head;
            }

            if (!_healthy)
            {
                LogRecovered(_consecutiveFailures);
            }

            _healthy = true;
            _consecutiveFailures = 0;
            for (var i = 0; i < batch.Events.Count; i++)
            {
                batch.Events[i].Done?.TrySetResult(batch.Sequences[i]);
            }

            if (batch.Checkpoints.Count > 0 && _sink is not null)
            {
                // A slow or stuck sink must not hold up commits: copies go out beside them.
                var export = ExportAsync(batch.Checkpoints);
                lock (_exports)
                {
                    _exports.RemoveAll(t => t.IsCompleted);
                    _exports.Add(export);
                }
            }
        }
    }

    private byte[] Seal(AuditEvent source, long sequence, byte[] previous, List<AuditRecord> records)
    {
        var sealedEvent = source with { Chain = Chain, Sequence = sequence };

        // previous hash || canonical event, contiguous: one SHA-256 call, no copy.
        _buffer.Reset(AuditHash.Size);
        previous.CopyTo(_buffer.Array, 0);
        AuditCanonicalJson.Write(sealedEvent, _buffer);
        var hash = new byte[AuditHash.Size];
        Sha256.Hash(_buffer.Written, hash);
        records.Add(new AuditRecord
        {
            Chain = Chain,
            Sequence = sequence,
            Time = sealedEvent.Time,
            Body = _buffer.Written[AuditHash.Size..].ToArray(),
            Hash = hash,
        });
        return hash;
    }

    private (long Sequence, byte[] Hash) AddCheckpoint(
        long sequence, byte[] head, DateTimeOffset now, List<AuditRecord> records, List<AuditCheckpoint> checkpoints, Interval interval)
    {
        var key = _keys.Current ?? throw new InvalidOperationException("The audit key is not loaded.");
        var checkpoint = AuditCheckpoints.Sign(key, Chain, sequence, head, interval.Start, AuditMerkle.FrontierRoot(interval.Frontier), now);
        checkpoints.Add(checkpoint);

        // The checkpoint is itself an event of the chain, so the trail says when and over what it was signed.
        var marker = new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.AuditCheckpoint,
            Outcome = AuditOutcome.Success,
            NodeId = Chain,
            ResourceType = "audit_chain",
            ResourceId = sequence.ToString(CultureInfo.InvariantCulture),
            Reason = Convert.ToHexStringLower(head),
        };
        var next = sequence + 1;
        var markerHash = Seal(marker, next, head, records);
        interval.Restart(next, markerHash);
        return (next, markerHash);
    }

    /// <summary>
    /// A commit that failed may still have reached the disk (an error after the write). If the stored head moved,
    /// this writer's view is stale: stop and alarm, so a restart reloads the head, instead of conflicting forever.
    /// </summary>
    private async Task CheckHeadAfterFailureAsync()
    {
        try
        {
            var stored = await _store.GetHeadAsync(Chain, CancellationToken.None).ConfigureAwait(false);
            long committed;
            lock (_headLock)
            {
                committed = _committedHead.Sequence;
            }

            if ((stored?.Sequence ?? 0) != committed)
            {
                throw new InvalidOperationException($"The audit store's head for chain {Chain} is {stored?.Sequence ?? 0}, but this writer committed up to {committed}: a failed commit reached the store. Restart the writer.");
            }
        }
        catch (Exception ex) when (ex is not InvalidOperationException and not OutOfMemoryException)
        {
            // The store is still down: the next commit will tell.
        }
    }

    private void Fail(List<Pending> events, Exception ex)
    {
        lock (_headLock)
        {
            // Everything sealed on top of the failed batch is void; sealing restarts from the last commit.
            _epoch++;
            _sealedHead = _committedHead;
        }

        _healthy = false;
        _consecutiveFailures++;
        var retained = 0;
        var failure = new AuditUnavailableException(SafeguardErrorCodes.AuditStoreUnavailable, "The audit store could not be written; the event is not durable.", ex);
        foreach (var pending in events)
        {
            if (pending.Done is not null)
            {
                // The caller is told now and fails closed; its event is not retried behind its back.
                pending.Done.TrySetException(failure);
            }
            else if (_retry.Count < MaxRetained)
            {
                _retry.Enqueue(pending);
                retained++;
            }
        }

        LogStoreFailed(ex, events.Count, retained, _consecutiveFailures);
    }

    private void Requeue(List<Pending> events)
    {
        // Never attempted: awaiting callers keep waiting, and the events are sealed again after the retry.
        foreach (var pending in events)
        {
            _retry.Enqueue(pending);
        }
    }

    private TimeSpan Backoff() => TimeSpan.FromMilliseconds(Math.Min(5_000, 50 * (1 << Math.Min(_consecutiveFailures, 7))));

    private async Task ExportAsync(List<AuditCheckpoint> checkpoints)
    {
        if (_sink is null)
        {
            return;
        }

        foreach (var checkpoint in checkpoints)
        {
            try
            {
                await _sink.WriteAsync(checkpoint, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The checkpoint is already committed in the database; a failing sink raises an alarm, never a loss.
                LogExportFailed(ex, checkpoint.Sequence);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.AuditQueueFull, Level = LogLevel.Critical, Message = "Audit queue full ({Capacity} events): an event was refused.")]
    private partial void LogQueueFull(int capacity);

    [LoggerMessage(EventId = LogEvents.AuditStoreFailed, Level = LogLevel.Critical, Message = "Audit store write failed ({Count} events, {Retained} kept for retry, failure {Failures} in a row); awaiting callers were refused.")]
    private partial void LogStoreFailed(Exception exception, int count, int retained, int failures);

    [LoggerMessage(EventId = LogEvents.AuditStoreRecovered, Level = LogLevel.Warning, Message = "Audit store writable again after {Failures} failed commits.")]
    private partial void LogRecovered(int failures);

    [LoggerMessage(EventId = LogEvents.AuditWriterCrashed, Level = LogLevel.Critical, Message = "The audit writer stopped on an internal error; waiting callers were refused.")]
    private partial void LogCrashed(Exception exception);

    [LoggerMessage(EventId = LogEvents.AuditWriterStoppedWithLeftovers, Level = LogLevel.Critical, Message = "The audit writer stopped with {Count} events it could not make durable; their callers were refused.")]
    private partial void LogStoppedWithLeftovers(int count);

    [LoggerMessage(EventId = LogEvents.AuditCheckpointExportFailed, Level = LogLevel.Error, Message = "Audit checkpoint {Sequence} could not be copied to the checkpoint sink; it is in the database and the next checkpoint will be tried.")]
    private partial void LogExportFailed(Exception exception, long sequence);

    private sealed record Pending(AuditEvent Event, TaskCompletionSource<long>? Done);

    /// <summary>The chain head as one stage sees it, with the Merkle frontier of the open checkpoint interval.</summary>
    private readonly record struct Head(long Sequence, byte[] Hash, long Marker, DateTimeOffset LastCheckpointTime, long IntervalStart, byte[][] Frontier);

    /// <summary>The open checkpoint interval while a batch is sealed: its first sequence number and Merkle frontier.</summary>
    private sealed class Interval(long start, byte[][] frontier)
    {
        public long Start { get; private set; } = start;

        public byte[][] Frontier { get; private set; } = frontier;

        public void Add(long sequence, byte[] chainHash) =>
            Frontier = AuditMerkle.Append(Frontier, sequence - Start, AuditMerkle.LeafHash(chainHash));

        public void Restart(long start, byte[] firstChainHash)
        {
            Start = start;
            Frontier = [AuditMerkle.LeafHash(firstChainHash)];
        }
    }

    private sealed record SealedBatch(int Epoch, List<Pending> Events, long[] Sequences, List<AuditRecord> Records, List<AuditCheckpoint> Checkpoints, Head Head);
}
