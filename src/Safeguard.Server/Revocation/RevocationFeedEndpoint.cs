using System.Globalization;
using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.OAuth;
using Safeguard.Tokens;

namespace Safeguard.Server.Revocation;

/// <summary>
/// <c>POST /revocations</c>: the revocation feed resource servers follow (the <c>AddSafeguardJwt</c> handler, the
/// gateway) so a revoked token, an ended session, a disabled user or client and a revoked key are refused everywhere
/// within seconds, not when the token expires. Long polling with a resume cursor: the caller authenticates as a client
/// that may introspect (a resource server), sends <c>since</c> (ms since the epoch) and <c>have</c> (how many entries
/// after <c>since</c> it already holds), and the answer comes as soon as the database holds more, or after
/// <c>wait</c> seconds (at most 25). Every node serves what any node revoked: the entries are read from the state
/// tables, and each node's <see cref="RevocationFeedSignal"/> wakes its waiting requests (PostgreSQL pushes each commit;
/// SQLite is polled twice a second).
/// </summary>
internal sealed class RevocationFeedEndpoint(
    ServerEndpoints endpoints, AuthenticatedRequestReader requests, IRevocationFeedSource source, RevocationFeedSignal signal, ServerAudit audit, TimeProvider time)
{
    public const string Path = "/revocations";

    /// <summary>How far back the answer's cursor stays, so an entry committed a moment late on another node is still sent.</summary>
    private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(5);

    /// <summary>The oldest a cursor may be: revocations older than any token still valid are of no use.</summary>
    private static readonly TimeSpan Horizon = TimeSpan.FromHours(24);

    private const int MaxEntries = 10_000;

    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        if (await requests.ReadAsync(context, endpoints.IntrospectionAudiences, AuditEventType.TokenRefused, AuditAction.Read).ConfigureAwait(false) is not { } request)
        {
            return;
        }

        var (form, caller) = request;
        if (caller.Client.IntrospectionResources.Count == 0)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Read, 403, OAuthResponses.UnauthorizedClient,
                "Only a resource server (a client that may introspect) may follow the revocation feed.", SafeguardErrorCodes.IntrospectionNotAllowed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        if (!TryRead(form["since"], 0, long.MaxValue, out var sinceMs) || !TryRead(form["have"], 0, MaxEntries, out var have) || !TryRead(form["wait"], 0, 25, out var wait))
        {
            await OAuthResponses.WriteErrorAsync(context.Response, 400, OAuthResponses.InvalidRequest, "since (ms), have and wait (0 to 25 s) must be whole numbers.").ConfigureAwait(false);
            return;
        }

        var since = form["since"] is null ? now - Horizon : DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(sinceMs, (now - Horizon).ToUnixTimeMilliseconds()));

        // The wait is a network timeout, measured in real elapsed time; entry times are the server's clock.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<RevocationFeedEntry> entries;
        while (true)
        {
            var pulse = signal.Next();
            entries = await source.ReadSinceAsync(since, MaxEntries, context.RequestAborted).ConfigureAwait(false);
            var remaining = TimeSpan.FromSeconds(wait) - waited.Elapsed;
            if (entries.Count > have || remaining <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                await pulse.WaitAsync(remaining, context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Nothing new within the wait: answer with what there is.
            }
        }

        // The next cursor stays a little behind, so a late commit on another node is not skipped; "have" tells the
        // next call how many of the entries after it the caller already holds.
        var next = entries.Count == MaxEntries ? entries[^1].At : Later(since, time.GetUtcNow() - Overlap);
        var response = context.Response;
        response.StatusCode = 200;
        OAuthResponses.NoStore(response);
        await OAuthResponses.WriteJsonAsync(response, writer =>
        {
            writer.WriteNumber("next", next.ToUnixTimeMilliseconds());
            writer.WriteNumber("have", entries.Count(e => e.At > next));
            writer.WriteStartArray("entries");
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("kind", RevocationFeedEntry.WireName(entry.Kind));
                writer.WriteString("value", entry.Value);
                writer.WriteNumber("at", entry.At.ToUnixTimeMilliseconds());
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static bool TryRead(string? text, long min, long max, out long value)
    {
        value = 0;
        return text is null || (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max);
    }
}

/// <summary>
/// Wakes this node's waiting feed requests when the revocation tables change. On PostgreSQL the database pushes every
/// committed revocation, from any node (<see cref="IRevocationFeedNotifications"/>: <c>LISTEN</c>/<c>NOTIFY</c>), and
/// a read every 5 s is only a safety net; on SQLite, or while the push channel is lost, it reads the last minute of
/// revocations every 500 ms and pulses when their count or newest time moved. It runs only while someone waits.
/// </summary>
internal sealed partial class RevocationFeedSignal(IRevocationFeedSource source, TimeProvider time, ILogger<RevocationFeedSignal> logger, IRevocationFeedNotifications? notifications = null) : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SafetyInterval = TimeSpan.FromSeconds(5);
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ChangeSignal _changed = new();
    private Task? _loop;
    private long _lastUse;

    /// <summary>A task that completes at the next change; starts the polling if it is not running.</summary>
    public Task Next()
    {
        Interlocked.Exchange(ref _lastUse, System.Diagnostics.Stopwatch.GetTimestamp());
        lock (_lock)
        {
            _loop ??= Task.Run(PollAsync);
            return _changed.Next;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private async Task PollAsync()
    {
        (int Count, DateTimeOffset Newest) seen = default;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                // Real elapsed time: how soon another node's revocation is seen does not depend on the server's clock.
                var push = notifications?.WhenChanged();
                if (push is not null && notifications!.IsListening)
                {
                    var delay = Task.Delay(SafetyInterval, _stop.Token);
                    if (await Task.WhenAny(push, delay).ConfigureAwait(false) == push)
                    {
                        // A commit on some node (or the channel's state changed): the waiting requests read again.
                        _changed.Pulse();
                        continue;
                    }

                    await delay.ConfigureAwait(false);
                }
                else
                {
                    await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
                }

                var recent = await source.ReadSinceAsync(time.GetUtcNow() - TimeSpan.FromMinutes(1), 10_000, _stop.Token).ConfigureAwait(false);
                var now = (recent.Count, recent.Count > 0 ? recent[^1].At : default);
                if (now != seen)
                {
                    seen = now;
                    _changed.Pulse();
                }

                // Idle for a minute (nobody waiting): stop until the next request.
                if (System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastUse)) > TimeSpan.FromMinutes(1))
                {
                    lock (_lock)
                    {
                        _loop = null;
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
#pragma warning disable CA1031 // a failed read is retried on the next tick; waiting requests time out meanwhile
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogPollFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.RevocationFeedReadFailed, Level = LogLevel.Warning, Message = "The revocation feed could not read the database ({Error}); it retries in 500 ms.")]
    private static partial void LogPollFailed(ILogger logger, string error);
}
