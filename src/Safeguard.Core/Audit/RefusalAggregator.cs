using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Safeguard.Audit;

/// <summary>
/// Records refusals of unauthenticated requests without letting a flood of them fill the disk or the audit queue. The
/// first refusal of a kind (source address, event type, reason code, claimed client id) in a window is recorded on its
/// own, at low priority (<see cref="AuditPriority.Low"/>: never in the last quarter of the queue); the others of that
/// window are counted and recorded as one summary event, with <see cref="AuditEvent.Count"/>, when the window ends.
/// Nothing is dropped: a refusal the queue has no room for is counted too; a summary the queue cannot take now is kept
/// and written later; beyond <see cref="MaxKinds"/> open kinds, refusals are counted by event type and code alone.
/// The server and the resource side (handler, gateway) each keep one beside their writer; <see cref="Flush"/> runs
/// every few seconds and, with <c>all</c>, when the node stops.
/// </summary>
/// <param name="writer">The trail.</param>
/// <param name="window">How long one summary window lasts.</param>
/// <param name="time">The clock.</param>
/// <param name="logger">Where a deferred summary is logged.</param>
public sealed partial class RefusalAggregator(AuditWriter writer, TimeSpan window, TimeProvider time, ILogger<RefusalAggregator> logger)
{
    /// <summary>The most kinds counted at once: bounded memory whatever the flood's variety.</summary>
    internal const int MaxKinds = 10_000;

    private readonly ConcurrentDictionary<Kind, Tally> _open = new();
    private readonly ConcurrentQueue<AuditEvent> _unwritten = new();
    private readonly TimeSpan _window = window > TimeSpan.Zero ? window : throw new ArgumentOutOfRangeException(nameof(window));

    /// <summary>Refusals counted and not yet written, for tests and metrics.</summary>
    internal int Pending => _open.Values.Sum(t => t.Count) + _unwritten.Sum(e => e.Count ?? 0);

    /// <summary>
    /// Records a refusal: on its own if it is the first of its kind in the window and the trail takes it, otherwise
    /// counted into the window's summary. Never throws for an unavailable trail.
    /// </summary>
    /// <param name="refusal">The refusal's event.</param>
    /// <param name="code">Its SGxxxx code (part of its kind).</param>
    /// <param name="cancellationToken">Stops waiting for the write.</param>
    /// <returns>True when recorded on its own; false when counted.</returns>
    public async Task<bool> RecordAsync(AuditEvent refusal, string code, CancellationToken cancellationToken)
    {
        if (Open(refusal, code) is not { } opened)
        {
            return false;
        }

        try
        {
            await writer.AppendAsync(refusal, AuditPriority.Low, cancellationToken).ConfigureAwait(false);
            opened.FirstRecorded = true;
            return true;
        }
        catch (AuditUnavailableException)
        {
            Unrecorded(opened);
            return false;
        }
    }

    /// <summary>
    /// As <see cref="RecordAsync"/>, without waiting for the write: the first of its kind is queued (Buffered), the
    /// others counted. Never fails for an unavailable trail.
    /// </summary>
    /// <param name="refusal">The refusal's event.</param>
    /// <param name="code">Its SGxxxx code (part of its kind).</param>
    /// <returns>True when queued on its own; false when counted.</returns>
    public bool Record(AuditEvent refusal, string code)
    {
        if (Open(refusal, code) is not { } opened)
        {
            return false;
        }

        if (writer.TryAppend(refusal, AuditPriority.Low))
        {
            opened.FirstRecorded = true;
            return true;
        }

        Unrecorded(opened);
        return false;
    }

    /// <summary>Counts the refusal into its kind's open window (null), or opens a window with it as the first (the tally).</summary>
    private Tally? Open(AuditEvent refusal, string code)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        var now = time.GetUtcNow();
        var kind = new Kind(refusal.SourceIp, refusal.Type, code, refusal.ClientId);
        if (_open.Count >= MaxKinds && !_open.ContainsKey(kind))
        {
            kind = new Kind("*", refusal.Type, code, null);
        }

        while (true)
        {
            if (_open.TryGetValue(kind, out var tally))
            {
                if (now < tally.End && tally.TryCount())
                {
                    return null;
                }

                Close(kind, tally);
                continue;
            }

            var opened = new Tally(kind.Source == "*" ? refusal with { SourceIp = null, ClientId = null } : refusal, now, now + _window);
            if (_open.TryAdd(kind, opened))
            {
                return opened;
            }
        }
    }

    /// <summary>
    /// The first of a window could not be written (no room, or the store is down): it goes into its window's summary
    /// instead (or, if the window closed meanwhile, into a summary of its own).
    /// </summary>
    private void Unrecorded(Tally opened)
    {
        if (!opened.TryCount())
        {
            Defer(Summarize(opened.First, pointAtFirst: false, 1, opened.Start, time.GetUtcNow()));
        }
    }

    /// <summary>Writes the summaries of the windows that have ended, and any the queue could not take before.</summary>
    /// <param name="all">Close every window now (the node is stopping).</param>
    public void Flush(bool all)
    {
        var now = time.GetUtcNow();
        foreach (var (kind, tally) in _open)
        {
            if (all || now >= tally.End)
            {
                Close(kind, tally);
            }
        }

        var retries = _unwritten.Count;
        while (retries-- > 0 && _unwritten.TryDequeue(out var summary))
        {
            if (!writer.TryAppend(summary))
            {
                _unwritten.Enqueue(summary);
                break;
            }
        }
    }

    private void Close(Kind kind, Tally tally)
    {
        if (!_open.TryRemove(new KeyValuePair<Kind, Tally>(kind, tally)))
        {
            return;
        }

        var count = tally.Close();
        if (count == 0)
        {
            return;
        }

        Defer(Summarize(tally.First, tally.FirstRecorded, count, tally.Start, time.GetUtcNow()));
    }

    /// <summary>The event standing for <paramref name="count"/> refusals like <paramref name="first"/>; it points at the first by event id when that one was recorded.</summary>
    private static AuditEvent Summarize(AuditEvent first, bool pointAtFirst, int count, DateTimeOffset start, DateTimeOffset now) => first with
    {
        EventId = AuditEventIds.New(now),
        Time = now,
        Count = count,
        CorrelationId = pointAtFirst ? first.EventId : null,
        Reason = string.Create(CultureInfo.InvariantCulture, $"{first.Reason} ({count} like it from {start:O} to {now:O}, not recorded one by one)"),
    };

    private void Defer(AuditEvent summary)
    {
        if (!writer.TryAppend(summary))
        {
            LogSummaryDeferred(logger, summary.Count ?? 0, summary.Type);
            _unwritten.Enqueue(summary);
        }
    }

    [LoggerMessage(EventId = LogEvents.RefusalSummaryDeferred, Level = LogLevel.Warning,
        Message = "A summary of {Count} refusals ({Type}) could not be queued for the audit trail; it is kept and retried.")]
    private static partial void LogSummaryDeferred(ILogger logger, int count, AuditEventType type);

    private readonly record struct Kind(string? Source, AuditEventType Type, string Code, string? ClientId);

    /// <summary>One window of one kind: the refusal recorded on its own, and how many more came.</summary>
    private sealed class Tally(AuditEvent first, DateTimeOffset start, DateTimeOffset end)
    {
        private readonly Lock _gate = new();
        private bool _closed;
        private int _count;

        public AuditEvent First { get; } = first;

        public DateTimeOffset Start { get; } = start;

        public DateTimeOffset End { get; } = end;

        public int Count
        {
            get
            {
                lock (_gate)
                {
                    return _count;
                }
            }
        }

        /// <summary>Counts one more unless the window was closed meanwhile (then the caller opens the next one).</summary>
        public bool TryCount()
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return false;
                }

                _count++;
                return true;
            }
        }

        /// <summary>Whether the refusal that opened the window was recorded on its own.</summary>
        public bool FirstRecorded { get; set; }

        public int Close()
        {
            lock (_gate)
            {
                _closed = true;
                return _count;
            }
        }
    }
}
