using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Audit;

/// <summary>
/// Builds the server's audit events (who, where, what, why, outcome) and appends them durably. A token is released
/// only after its <see cref="AuditEventType.TokenIssued"/> event is committed; when the trail cannot take it the
/// caller answers 503 and nothing is released.
/// </summary>
internal sealed partial class ServerAudit(AuditWriter writer, RefusalAggregator refusals, ServerMetrics metrics, TimeProvider time, ILogger<ServerAudit> logger)
{
    private const int MaxUserAgentLength = 256;

    /// <summary>The writer (for health).</summary>
    public AuditWriter Writer => writer;

    /// <summary>A new event with the request's context filled in.</summary>
    public AuditEvent Create(HttpContext context, AuditEventType type, AuditOutcome outcome, string? clientId, string? reason, int status)
    {
        var now = time.GetUtcNow();
        var userAgent = context.Request.Headers.UserAgent.ToString();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type,
            Outcome = outcome,
            ClientId = clientId,
            SourceIp = context.Connection.RemoteIpAddress?.ToString(),
            UserAgent = userAgent.Length == 0 ? null : userAgent.Length > MaxUserAgentLength ? userAgent[..MaxUserAgentLength] : userAgent,
            NodeId = writer.Chain,
            Reason = reason,
            HttpStatus = status,
            CorrelationId = context.TraceIdentifier,
        };
    }

    /// <summary>
    /// Appends and waits until the event is durable. When the trail cannot take it, answers the request with 503
    /// <c>temporarily_unavailable</c> (nothing is released) and returns false.
    /// </summary>
    public async Task<bool> RecordOrRefuseAsync(HttpContext context, AuditEvent auditEvent)
    {
        try
        {
            await writer.AppendAsync(auditEvent, context.RequestAborted).ConfigureAwait(false);
            return true;
        }
        catch (AuditUnavailableException ex)
        {
            metrics.AuditUnavailable();
            LogAuditUnavailable(logger, ex.ErrorCode, auditEvent.ClientId);
            context.Response.Headers.Remove("DPoP-Nonce");
            context.Response.Headers.RetryAfter = "1";
            await OAuthResponses.WriteErrorAsync(context.Response, 503, OAuthResponses.TemporarilyUnavailable,
                "The audit trail cannot record this request; nothing was issued or changed.").ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>Appends and waits until the event is durable; false when the trail cannot take it (the caller answers 503 and releases nothing).</summary>
    public async Task<bool> RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        try
        {
            await writer.AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AuditUnavailableException ex)
        {
            metrics.AuditUnavailable();
            LogAuditUnavailable(logger, ex.ErrorCode, auditEvent.ClientId);
            return false;
        }
    }

    /// <summary>Audits a refusal with its reason, then answers with the RFC 6749 error (or 503 when even the refusal cannot be recorded).</summary>
    public async Task RefuseAsync(
        HttpContext context, AuditEventType type, AuditAction action, int status, string error, string description, string code, string? clientId)
    {
        metrics.TokenRefused(error);
        var auditEvent = Create(context, type, AuditOutcome.Denied, clientId, $"{code} {error}: {description}", status) with
        {
            Action = action,
            ResourceType = type == AuditEventType.TransportRefused ? "request" : "access_token",
        };
        if (await RecordOrRefuseAsync(context, auditEvent).ConfigureAwait(false))
        {
            await OAuthResponses.WriteErrorAsync(context.Response, status, error, description).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Audits the refusal of a request whose caller has not authenticated (a malformed request, a failed client
    /// authentication, plain http, a rate limit), then answers it. Repeats from one source are summarised
    /// (<see cref="RefusalAggregator"/>), and such refusals never take the audit queue's last quarter, so a flood of
    /// them cannot fill the disk or starve issuance; the answer is the refusal even when the trail is down.
    /// </summary>
    public async Task RefuseUnauthenticatedAsync(
        HttpContext context, AuditEventType type, AuditAction action, int status, string error, string description, string code, string? claimedClientId)
    {
        metrics.TokenRefused(error);
        var auditEvent = Create(context, type, AuditOutcome.Denied, claimedClientId, $"{code} {error}: {description}", status) with
        {
            Action = action,
            ResourceType = type == AuditEventType.TransportRefused ? "request" : "access_token",
        };
        await refusals.RecordAsync(auditEvent, code, context.RequestAborted).ConfigureAwait(false);
        await OAuthResponses.WriteErrorAsync(context.Response, status, error, description).ConfigureAwait(false);
    }

    /// <summary>A failed client authentication: 401 with a Basic challenge where due, else 400 (<see cref="ClientAuthenticationFailure.ApplyStatus"/>).</summary>
    public Task RefuseClientAsync(HttpContext context, AuditEventType type, AuditAction action, ClientAuthenticationFailure failure)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(failure);
        return RefuseUnauthenticatedAsync(context, type, action, failure.ApplyStatus(context.Response), failure.OAuthError, failure.Description, failure.Code, failure.ClaimedClientId);
    }

    /// <summary>
    /// Records an unhandled failure on the request path durably, like every other refusal, with the failure's type,
    /// never its message. False when the trail could not take it either (the answer is then 503).
    /// </summary>
    public async Task<bool> RecordFailureAsync(HttpContext context, bool storeDown, string? exceptionType)
    {
        var failure = Create(context, AuditEventType.TokenRefused, AuditOutcome.Error, null, storeDown
            ? $"{SafeguardErrorCodes.StoreUnavailable} temporarily_unavailable: the store could not be reached"
            : $"server_error: unhandled {exceptionType}", storeDown ? 503 : 500);
        try
        {
            await writer.AppendAsync(failure, context.RequestAborted).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is AuditUnavailableException or OperationCanceledException)
        {
            metrics.AuditUnavailable();
            LogAuditUnavailable(logger, ex is AuditUnavailableException unavailable ? unavailable.ErrorCode : "canceled", null);
            return false;
        }
    }

    /// <summary>
    /// Records that a change recorded before it was made did not happen after all (the store failed): the same event
    /// with outcome error, pointing at it by event id. Queued, so it survives the outage that caused it.
    /// </summary>
    public void RecordNotDone(AuditEvent change, string? exceptionType)
    {
        ArgumentNullException.ThrowIfNull(change);
        var now = time.GetUtcNow();
        writer.TryAppend(change with
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Outcome = AuditOutcome.Error,
            HttpStatus = 503,
            Reason = $"not done ({exceptionType ?? "failure"}): {change.Reason}",
            CorrelationId = change.EventId,
        });
    }

    /// <summary>Records a key lifecycle change (raised by the key ring outside its lock). Queued; survives outages.</summary>
    public void OnKeyLifecycle(object? sender, KeyLifecycleEventArgs change)
    {
        if (KeyLifecycleAudit.ToAuditEvent(change, time.GetUtcNow(), actor: null) is { } auditEvent)
        {
            writer.TryAppend(auditEvent with { NodeId = writer.Chain });
        }
    }

    [LoggerMessage(EventId = LogEvents.AuditUnavailableRefusal, Level = LogLevel.Error, Message = "Audit trail unavailable ({Code}); request from client {ClientId} answered 503, nothing issued or changed.")]
    private static partial void LogAuditUnavailable(ILogger logger, string code, string? clientId);
}
