using Safeguard.Audit;
using Safeguard.Keys;

namespace Safeguard.Server.Services;

/// <summary>
/// Builds the server's audit events (who, where, what, why, outcome) and appends them durably. A token is released
/// only after its <see cref="AuditEventType.TokenIssued"/> event is committed; when the trail cannot take it the
/// caller answers 503 and nothing is released.
/// </summary>
internal sealed class ServerAudit(AuditWriter writer, TimeProvider time)
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

    /// <summary>Appends and waits until the event is durable.</summary>
    /// <exception cref="AuditUnavailableException">The trail cannot take the event (queue full, store down, writer stopped).</exception>
    public Task<long> AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken) => writer.AppendAsync(auditEvent, cancellationToken);

    /// <summary>Records a key lifecycle change (raised by the key ring outside its lock). Queued; survives outages.</summary>
    public void OnKeyLifecycle(object? sender, KeyLifecycleEventArgs change)
    {
        var type = change.Created ? AuditEventType.KeyCreated : change.State switch
        {
            KeyState.Active => AuditEventType.KeyActivated,
            KeyState.Retired => AuditEventType.KeyRetired,
            KeyState.Revoked => AuditEventType.KeyRevoked,
            _ => (AuditEventType?)null,
        };
        if (type is null)
        {
            return;
        }

        var now = time.GetUtcNow();
        writer.TryAppend(new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type.Value,
            Outcome = AuditOutcome.Success,
            NodeId = writer.Chain,
            Action = change.Created ? AuditAction.Create : AuditAction.Update,
            ResourceType = "signing_key",
            ResourceId = change.KeyId,
            Reason = $"{change.Algorithm} key {change.State.ToString().ToLowerInvariant()} at {change.At:O}",
        });
    }
}
