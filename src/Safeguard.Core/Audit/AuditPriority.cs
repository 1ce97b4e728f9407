namespace Safeguard.Audit;

/// <summary>How an event competes for room in the audit queue.</summary>
public enum AuditPriority
{
    /// <summary>Issuance, changes, PHI access, and refusals of authenticated callers: the whole queue.</summary>
    Normal,

    /// <summary>Refusals of unauthenticated requests: refused once the queue is three quarters full.</summary>
    Low,
}
