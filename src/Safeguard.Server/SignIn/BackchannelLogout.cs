using System.Threading.Channels;
using Safeguard.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Sessions;
using Safeguard.Tokens;

namespace Safeguard.Server.SignIn;

/// <summary>
/// OpenID Connect Back-Channel Logout: when a session ends on this node, for whatever reason, every client that was
/// given a code in it and registered a <c>backchannel_logout_uri</c> is sent a signed logout token (<c>sub</c>,
/// <c>sid</c>) by a direct HTTPS POST, so it ends its own session for the user at once instead of at its next
/// refresh. Delivery runs in the background: three attempts (at once, after 2 s, after 10 s), each with a 5-second
/// timeout, no redirects followed; the outcome of each client's delivery is an audit event. Notices still queued when
/// the process dies are lost (the sessions are ended regardless; clients also see their refresh tokens refused).
/// </summary>
internal sealed partial class BackchannelLogout : BackgroundService
{
    private static readonly TimeSpan[] Attempts = [TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)];
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The most deliveries in flight at once (a mass sign-out must not open thousands of connections).</summary>
    private const int MaxConcurrentDeliveries = 16;

    private readonly SemaphoreSlim _deliveries = new(MaxConcurrentDeliveries, MaxConcurrentDeliveries);

    private readonly Channel<SessionEndedEventArgs> _queue = Channel.CreateBounded<SessionEndedEventArgs>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SessionManager _sessions;
    private readonly ISessionStore _store;
    private readonly ClientRegistry _clients;
    private readonly LogoutTokenIssuer _tokens;
    private readonly HttpClient _http;
    private readonly AuditWriter _writer;
    private readonly TimeProvider _time;
    private readonly ILogger<BackchannelLogout> _logger;

    public BackchannelLogout(
        SessionManager sessions, ISessionStore store, ClientRegistry clients, LogoutTokenIssuer tokens, BackchannelLogoutHttp http,
        AuditWriter writer, TimeProvider time, ILogger<BackchannelLogout> logger)
    {
        _sessions = sessions;
        _store = store;
        _clients = clients;
        _tokens = tokens;
        _http = new HttpClient(http.Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _writer = writer;
        _time = time;
        _logger = logger;
        _sessions.Ended += OnEnded;
    }

    public override void Dispose()
    {
        _sessions.Ended -= OnEnded;
        _http.Dispose();
        _deliveries.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var ended in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                UserSession? session;
                try
                {
                    session = await _store.FindAsync(ended.SessionId, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    // The store is down: these clients are not told (their refresh tokens are revoked regardless).
                    LogSessionUnreadable(_logger, ended.SessionId, ex.GetType().Name);
                    continue;
                }

                foreach (var clientId in session?.ClientIds ?? [])
                {
                    if (_clients.Find(clientId) is { BackchannelLogoutUri: { } uri, Enabled: true })
                    {
                        // Each client on its own (a slow one does not hold up the others), at most 16 at once.
                        await _deliveries.WaitAsync(stoppingToken).ConfigureAwait(false);
                        _ = DeliverAsync(session!, clientId, new Uri(uri), stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void OnEnded(object? sender, SessionEndedEventArgs ended)
    {
        if (!_queue.Writer.TryWrite(ended))
        {
            LogQueueFull(_logger, ended.SessionId);
        }
    }

    private async Task DeliverAsync(UserSession session, string clientId, Uri uri, CancellationToken stoppingToken)
    {
        try
        {
            await DeliverOnceAsync(session, clientId, uri, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogNotDelivered(_logger, clientId, ex.GetType().Name);
        }
        finally
        {
            _deliveries.Release();
        }
    }

    private async Task DeliverOnceAsync(UserSession session, string clientId, Uri uri, CancellationToken stoppingToken)
    {
        string outcome = "no signing key is active";
        var delivered = false;
        try
        {
            foreach (var delay in Attempts)
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                }

                // A new token for each attempt: it lives two minutes.
                if (_tokens.Issue(clientId, session.Subject, session.Id) is not { } token)
                {
                    continue;
                }

                using var timeout = new CancellationTokenSource(AttemptTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
                try
                {
                    using var content = new FormUrlEncodedContent([new("logout_token", token)]);
                    using var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
                    // Only the status matters: the body (the client's to choose) is never read.
                    using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
                    outcome = $"HTTP {(int)response.StatusCode}";
                    if (response.StatusCode is System.Net.HttpStatusCode.OK or System.Net.HttpStatusCode.NoContent)
                    {
                        delivered = true;
                        break;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    outcome = ex is OperationCanceledException ? "timed out" : ex.GetType().Name + (ex is HttpRequestException { HttpRequestError: var error } ? $" ({error})" : string.Empty);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            outcome = "the server stopped before delivery";
        }

        var now = _time.GetUtcNow();
        var auditEvent = new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.SessionEnded,
            Outcome = delivered ? AuditOutcome.Success : AuditOutcome.Error,
            ClientId = clientId,
            Subject = session.Subject,
            SessionId = session.Id,
            Actor = "server",
            Action = AuditAction.Execute,
            ResourceType = "backchannel_logout",
            ResourceId = clientId,
            NodeId = _writer.Chain,
            Reason = delivered
                ? $"back-channel logout delivered to {uri.GetLeftPart(UriPartial.Path)} ({outcome})"
                : $"back-channel logout not delivered to {uri.GetLeftPart(UriPartial.Path)} after {Attempts.Length} attempts ({outcome})",
        };
        if (!_writer.TryAppend(auditEvent))
        {
            LogNotAudited(_logger, clientId, session.Id);
        }

        if (!delivered)
        {
            LogNotDelivered(_logger, clientId, outcome);
        }
    }

    [LoggerMessage(EventId = LogEvents.BackchannelLogoutFailed, Level = LogLevel.Warning, Message = "Back-channel logout to client {ClientId} was not delivered after every attempt ({Outcome}).")]
    private static partial void LogNotDelivered(ILogger logger, string clientId, string outcome);

    [LoggerMessage(EventId = LogEvents.BackchannelLogoutSessionUnreadable, Level = LogLevel.Error, Message = "Back-channel logout: session {SessionId} could not be read ({Failure}); its clients are not told it ended.")]
    private static partial void LogSessionUnreadable(ILogger logger, string sessionId, string failure);

    [LoggerMessage(EventId = LogEvents.BackchannelLogoutQueueFull, Level = LogLevel.Error, Message = "Back-channel logout queue full: clients of session {SessionId} are not told it ended.")]
    private static partial void LogQueueFull(ILogger logger, string sessionId);

    [LoggerMessage(EventId = LogEvents.BackchannelLogoutNotAudited, Level = LogLevel.Error, Message = "The outcome of a back-channel logout to client {ClientId} (session {SessionId}) could not be queued for the audit trail.")]
    private static partial void LogNotAudited(ILogger logger, string clientId, string sessionId);
}

/// <summary>How back-channel logout reaches clients: system-trusted TLS, no redirects (a deployment or a test may supply its own handler).</summary>
/// <param name="Handler">The handler.</param>
internal sealed record BackchannelLogoutHttp(HttpMessageHandler Handler)
{
    public static BackchannelLogoutHttp Default() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    });
}
