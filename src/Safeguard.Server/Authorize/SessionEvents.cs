using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Sessions;

namespace Safeguard.Server.Authorize;

/// <summary>The audit events of sessions.</summary>
internal static class SessionEvents
{
    public static AuditEvent Started(ServerAudit audit, HttpContext context, UserSession session, string? clientId) =>
        audit.Create(context, AuditEventType.SessionStarted, AuditOutcome.Success, clientId, $"session started (acr {session.Acr})", 200) with
        {
            Subject = session.Subject,
            SessionId = session.Id,
            Acr = session.Acr,
            Amr = session.Amr,
            Action = AuditAction.Create,
            ResourceType = "session",
            ResourceId = session.Id,
        };

    public static AuditEvent TimedOut(ServerAudit audit, HttpContext context, UserSession session) =>
        audit.Create(context, AuditEventType.SessionTimedOut, AuditOutcome.Success, null, $"session ended by its {session.EndReason} limit (automatic logoff)", 0) with
        {
            Subject = session.Subject,
            SessionId = session.Id,
            Action = AuditAction.Delete,
            ResourceType = "session",
            ResourceId = session.Id,
            HttpStatus = null,
        };

    public static AuditEvent Ended(ServerAudit audit, HttpContext context, UserSession session, string reason) =>
        audit.Create(context, AuditEventType.SessionEnded, AuditOutcome.Success, null, reason, 200) with
        {
            Subject = session.Subject,
            SessionId = session.Id,
            Action = AuditAction.Delete,
            ResourceType = "session",
            ResourceId = session.Id,
        };
}
