using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>The audit event for a signing-key lifecycle change, wherever the change happens (server or command line).</summary>
public static class KeyLifecycleAudit
{
    /// <summary>The event for <paramref name="change"/>, or null for a state that is not audited (pending, removed).</summary>
    /// <param name="change">The change the key ring raised.</param>
    /// <param name="now">The current time.</param>
    /// <param name="actor">Who caused it (for example <c>cli:root</c>); null for the server's own rotation.</param>
    /// <returns>The event.</returns>
    public static AuditEvent? ToAuditEvent(KeyLifecycleEventArgs change, DateTimeOffset now, string? actor)
    {
        ArgumentNullException.ThrowIfNull(change);
        AuditEventType? type = change.Created ? AuditEventType.KeyCreated : change.State switch
        {
            KeyState.Active => AuditEventType.KeyActivated,
            KeyState.Retired => AuditEventType.KeyRetired,
            KeyState.Revoked => AuditEventType.KeyRevoked,
            _ => null,
        };
        return type is null ? null : new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type.Value,
            Outcome = AuditOutcome.Success,
            Actor = actor,
            Action = change.Created ? AuditAction.Create : AuditAction.Update,
            ResourceType = "signing_key",
            ResourceId = change.KeyId,
            Reason = $"{change.Algorithm} key {change.State.ToString().ToLowerInvariant()} at {change.At:O}",
        };
    }
}
