using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Storage.Audit;

namespace Safeguard.AspNetCore;

/// <summary>
/// The resource side's own audit trail: one <see cref="AuditWriter"/> on the store <see cref="SafeguardAuditOptions"/>
/// names, started with the host and stopped after it (a clean stop commits every queued event). Requests ask it
/// <see cref="CanTakeBuffered"/> before they proceed and <see cref="RecordDurableAsync"/> or
/// <see cref="RecordBuffered"/> to write; when the trail cannot take an event the request is refused with 503.
/// </summary>
public sealed partial class SafeguardResourceAudit : IHostedService, IAsyncDisposable
{
    private readonly SafeguardAuditOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SafeguardResourceAudit> _logger;
    private readonly AesGcmKeyProtector _protector;
    private readonly AuditSigningKeys _keys;
    private readonly IAuditStore _store;
    private readonly CompositeCheckpointSink _sink;
    private ITimer? _watch;
    private long _lastCommitted;
    private long _stalledSince;
    private volatile bool _lagging;
    private long _lost;

    /// <summary>Opens the data folder, its key-encryption key, audit key and store. The writer starts with the host.</summary>
    /// <param name="options">Where the trail is kept.</param>
    /// <param name="time">The clock.</param>
    /// <param name="loggers">The operational log.</param>
    public SafeguardResourceAudit(IOptions<SafeguardAuditOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        _options = options.Value;
        _time = time;
        _logger = loggers.CreateLogger<SafeguardResourceAudit>();
        var folder = SafeguardDataFolder.At(_options.DataPath).EnsureCreated();
        _protector = folder.OpenKeyEncryptionKey();
        _keys = folder.OpenAuditKeys(_protector, time);
        _store = _options.PostgresConnectionString is { Length: > 0 } connection
            ? new PostgresAuditStore(connection)
            : new SqliteAuditStore(folder.AuditDatabase);
        var auditOptions = new AuditOptions
        {
            ChainId = _options.ChainId ?? folder.DefaultAuditChain(),
            QueueCapacity = _options.QueueCapacity,
            UnawaitedCommitDelay = UnawaitedCommitDelayFor(_options.BufferedCommitBound),
            CheckpointDirectory = _options.CheckpointDirectory,
        };
        _sink = CheckpointDestinations.Of(auditOptions, folder).CreateSink();
        Writer = new AuditWriter(_store, _keys, _sink, Options.Create(auditOptions), time, loggers.CreateLogger<AuditWriter>());
        Refusals = new RefusalAggregator(Writer, _options.RefusalSummaryWindow, time, loggers.CreateLogger<RefusalAggregator>());
    }

    /// <summary>
    /// How long the writer holds Buffered events for one commit to cover more of them: a fiftieth of the Buffered bound,
    /// at most 20 ms, so a busy trail commits about fifty times a second instead of once per fsync, and a kill loses at
    /// most that much more. Durable decisions (awaited) are never held.
    /// </summary>
    internal static TimeSpan UnawaitedCommitDelayFor(TimeSpan bufferedCommitBound) =>
        bufferedCommitBound / 50 < TimeSpan.FromMilliseconds(20) ? bufferedCommitBound / 50 : TimeSpan.FromMilliseconds(20);

    /// <summary>Refusals of requests without a verified token: one event per kind and window, the rest summarised.</summary>
    public RefusalAggregator Refusals { get; }

    /// <summary>The writer (its chain, health and queue).</summary>
    public AuditWriter Writer { get; }

    /// <summary>The chain this node writes.</summary>
    public string Chain => Writer.Chain;

    /// <summary>Whether a Buffered event would be taken now: the writer runs, its last commit worked, the queue has room and nothing queued has waited past the bound.</summary>
    public bool CanTakeBuffered => Writer.IsHealthy && !_lagging && Writer.QueuedEvents < _options.QueueCapacity;

    /// <summary>Completed Buffered requests (and Durable follow-ups) whose event could not be queued because the trail stopped taking events while they ran.</summary>
    public long LostEvents => Interlocked.Read(ref _lost);

    /// <summary>Counts one event that could not be queued.</summary>
    internal void CountLost() => Interlocked.Increment(ref _lost);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Writer.StartAsync(cancellationToken).ConfigureAwait(false);
        _lastCommitted = Writer.CommittedSequence;
        _stalledSince = _time.GetTimestamp();
        var period = _options.BufferedCommitBound / 4;
        _watch = _time.CreateTimer(_ => WatchCommits(), null, period, period);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _watch?.Dispose();
        Refusals.Flush(all: true);
        await Writer.StopAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Appends an event and waits until it is durable, at most <see cref="SafeguardAuditOptions.DurableCommitTimeout"/>.
    /// Anything but <see cref="DurableOutcome.Committed"/> refuses the request with 503. After
    /// <see cref="DurableOutcome.TimedOut"/> the event may still be committed (the store recovers before the writer
    /// gives it up): if it is, <paramref name="notServed"/> is queued after it, so the trail never reads as if the
    /// request had been served.
    /// </summary>
    /// <param name="auditEvent">The event.</param>
    /// <param name="notServed">The event saying the request was refused, written only if the decision is committed late.</param>
    /// <param name="cancellationToken">The request's abort token.</param>
    /// <returns>What became of the event.</returns>
    public async Task<DurableOutcome> RecordDurableAsync(AuditEvent auditEvent, Func<AuditEvent> notServed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notServed);
        Task<long> append;
        try
        {
            append = Writer.AppendAsync(auditEvent, CancellationToken.None);
        }
        catch (AuditUnavailableException ex)
        {
            LogUnavailable(_logger, ex.ErrorCode);
            return DurableOutcome.NotTaken;
        }

        try
        {
            await append.WaitAsync(_options.DurableCommitTimeout, _time, cancellationToken).ConfigureAwait(false);
            return DurableOutcome.Committed;
        }
        catch (AuditUnavailableException ex)
        {
            LogUnavailable(_logger, ex.ErrorCode);
            return DurableOutcome.NotTaken;
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogUnavailable(_logger, SafeguardErrorCodes.AuditStoreUnavailable);
            _ = append.ContinueWith(
                committed =>
                {
                    if (committed.IsCompletedSuccessfully && !RecordBuffered(notServed()))
                    {
                        CountLost();
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            return DurableOutcome.TimedOut;
        }
    }

    /// <summary>What became of a Durable event.</summary>
    public enum DurableOutcome
    {
        /// <summary>Committed: the request may proceed.</summary>
        Committed,

        /// <summary>Refused at once (queue full, writer stopped): nothing was recorded.</summary>
        NotTaken,

        /// <summary>Not committed in time (or the caller went away): it may yet be committed, then followed by its not-served event.</summary>
        TimedOut,
    }

    /// <summary>Queues an event to be committed within the bound. False when the trail cannot take it.</summary>
    /// <param name="auditEvent">The event.</param>
    /// <param name="priority">Low for a refusal of a request without a verified token: refused once the queue is three quarters full, so a flood of them cannot take the room allowed requests need.</param>
    /// <returns>Whether it was queued.</returns>
    public bool RecordBuffered(AuditEvent auditEvent, AuditPriority priority = AuditPriority.Normal) =>
        !_lagging && Writer.IsHealthy && Writer.TryAppend(auditEvent, priority);

    /// <summary>
    /// Serves an allowed request under its audit mode. <see cref="SafeguardAuditMode.Durable"/>: <paramref name="next"/>
    /// runs only once the decision is committed, and a small follow-up event (Buffered) records its status and
    /// duration. <see cref="SafeguardAuditMode.Buffered"/>: it runs at once and one event with its status and duration
    /// is queued when it ends. When the trail cannot take the event the answer is 503 and <paramref name="next"/> is not
    /// run.
    /// </summary>
    /// <param name="next">The endpoint (or the proxy's forwarding).</param>
    /// <param name="context">The request, its verified token in <see cref="SafeguardTokenFeature"/>.</param>
    /// <param name="mode">How its event is written.</param>
    /// <returns>A task that completes when the request is served or refused.</returns>
    internal async Task AllowAsync(RequestDelegate next, HttpContext context, SafeguardAuditMode mode)
    {
        var decision = SafeguardResourceAccess.Create(context, AuditEventType.PhiAccessAllowed, AuditOutcome.Success, null, null, Chain, _time.GetUtcNow());
        if (mode == SafeguardAuditMode.Durable)
        {
            // Should the decision be committed after the wait gave up, a completion after it says the request was refused.
            var outcome = await RecordDurableAsync(
                decision, () => Completion(decision, 503, 0) with { Reason = SafeguardErrorCodes.AuditStoreUnavailable }, context.RequestAborted).ConfigureAwait(false);
            if (outcome != DurableOutcome.Committed)
            {
                await SafeguardChallenges.UnavailableAsync(context).ConfigureAwait(false);
                return;
            }
        }
        else if (!CanTakeBuffered)
        {
            await SafeguardChallenges.UnavailableAsync(context).ConfigureAwait(false);
            return;
        }

        var started = _time.GetTimestamp();
        var status = 500;
        try
        {
            await next(context).ConfigureAwait(false);
            status = context.Response.StatusCode;
        }
        finally
        {
            var duration = (long)_time.GetElapsedTime(started).TotalMilliseconds;
            var completion = mode == SafeguardAuditMode.Durable
                ? Completion(decision, status, duration)
                : decision with { HttpStatus = status, DurationMs = duration };
            if (!RecordBuffered(completion))
            {
                CountLost();
                LogCompletionLost(_logger, mode, status);
            }
        }
    }

    /// <summary>
    /// Records a refusal with its precise reason. A refusal of a request without a verified token goes through
    /// <see cref="Refusals"/> (anyone can send those: the first of a kind per window is an event, the rest a summary).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="reason">The <c>SGxxxx</c> reason.</param>
    /// <param name="status">The status the answer carries.</param>
    /// <returns>True to answer the refusal; false when the trail could not take it and 503 was answered instead.</returns>
    internal async ValueTask<bool> DenyAsync(HttpContext context, string? reason, int status)
    {
        var denied = SafeguardResourceAccess.Create(context, AuditEventType.PhiAccessDenied, AuditOutcome.Denied, reason, status, Chain, _time.GetUtcNow());
        if (context.Features.Get<SafeguardTokenFeature>() is null)
        {
            Refusals.Record(denied, ReasonCode(reason));
            return true;
        }

        if (RecordBuffered(denied))
        {
            return true;
        }

        await SafeguardChallenges.UnavailableAsync(context).ConfigureAwait(false);
        return false;
    }

    /// <summary>The small follow-up of a Durable decision: the decision it completes (its correlation id) holds who and what.</summary>
    private AuditEvent Completion(AuditEvent decision, int status, long duration)
    {
        var now = _time.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.PhiAccessCompleted,
            Outcome = status < 400 ? AuditOutcome.Success : AuditOutcome.Error,
            NodeId = decision.NodeId,
            CorrelationId = decision.EventId,
            HttpStatus = status,
            DurationMs = duration,
        };
    }

    /// <summary>The SGxxxx code a reason starts with, or the whole reason.</summary>
    private static string ReasonCode(string? reason) =>
        reason is null ? string.Empty : reason.IndexOf(' ', StringComparison.Ordinal) is > 0 and var space ? reason[..space] : reason;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _watch?.Dispose();
        await Writer.DisposeAsync().ConfigureAwait(false);
        _store.Dispose();
        _keys.Dispose();
        _protector.Dispose();
        (_sink as IDisposable)?.Dispose();
    }

    /// <summary>Marks the trail lagging while queued events have seen no commit for longer than the Buffered bound.</summary>
    private void WatchCommits()
    {
        Refusals.Flush(all: false);
        var committed = Writer.CommittedSequence;
        var now = _time.GetTimestamp();
        if (committed != _lastCommitted || Writer.QueuedEvents == 0)
        {
            _lastCommitted = committed;
            _stalledSince = now;
            if (_lagging)
            {
                _lagging = false;
                LogCaughtUp(_logger);
            }

            return;
        }

        if (!_lagging && _time.GetElapsedTime(_stalledSince, now) > _options.BufferedCommitBound)
        {
            _lagging = true;
            LogLagging(_logger, Writer.QueuedEvents, _options.BufferedCommitBound);
        }
    }

    [LoggerMessage(EventId = LogEvents.ResourceAuditEventLost, Level = LogLevel.Error, Message = "The audit event of a completed {Mode} request (status {Status}) could not be queued: the trail stopped taking events while it ran.")]
    private static partial void LogCompletionLost(ILogger logger, SafeguardAuditMode mode, int status);

    [LoggerMessage(EventId = LogEvents.ResourceAuditUnavailable, Level = LogLevel.Error, Message = "The resource audit trail cannot take an event ({Code}); the request is refused with 503.")]
    private static partial void LogUnavailable(ILogger logger, string code);

    [LoggerMessage(EventId = LogEvents.ResourceAuditLagging, Level = LogLevel.Error, Message = "{Queued} resource audit events have waited longer than {Bound} to be committed; requests are refused with 503 until the trail catches up.")]
    private static partial void LogLagging(ILogger logger, int queued, TimeSpan bound);

    [LoggerMessage(EventId = LogEvents.ResourceAuditCaughtUp, Level = LogLevel.Information, Message = "The resource audit trail is committing again; requests are served.")]
    private static partial void LogCaughtUp(ILogger logger);
}
