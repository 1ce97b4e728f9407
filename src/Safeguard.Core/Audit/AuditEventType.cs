namespace Safeguard.Audit;

/// <summary>
/// The closed catalogue of audit event types. Each has a stable wire name (<see cref="AuditEventTypes.WireName(AuditEventType)"/>)
/// that is what the canonical form, exports and searches use; a retired name is never reused.
/// </summary>
public enum AuditEventType
{
    /// <summary>An access token was issued.</summary>
    TokenIssued,

    /// <summary>A token request was refused.</summary>
    TokenRefused,

    /// <summary>A token was revoked.</summary>
    TokenRevoked,

    /// <summary>A user signed in.</summary>
    LoginSucceeded,

    /// <summary>A sign-in failed.</summary>
    LoginFailed,

    /// <summary>A second factor was verified.</summary>
    MfaSucceeded,

    /// <summary>A second factor was rejected.</summary>
    MfaFailed,

    /// <summary>An authenticator (TOTP, passkey) was enrolled.</summary>
    MfaEnrolled,

    /// <summary>An authenticator was removed.</summary>
    MfaRemoved,

    /// <summary>A session started.</summary>
    SessionStarted,

    /// <summary>A session ended by logout.</summary>
    SessionEnded,

    /// <summary>A session ended by its idle or absolute limit (automatic logoff).</summary>
    SessionTimedOut,

    /// <summary>A refresh token was presented again after rotation; its family was revoked.</summary>
    RefreshReuseDetected,

    /// <summary>A signing key was created.</summary>
    KeyCreated,

    /// <summary>A signing key started signing.</summary>
    KeyActivated,

    /// <summary>A signing key stopped signing.</summary>
    KeyRetired,

    /// <summary>A signing key was revoked.</summary>
    KeyRevoked,

    /// <summary>A client was created, changed or disabled (old and new values in the changes).</summary>
    ClientChanged,

    /// <summary>A user was created, changed or disabled (old and new values in the changes).</summary>
    UserChanged,

    /// <summary>Access to PHI was allowed.</summary>
    PhiAccessAllowed,

    /// <summary>Access to PHI was denied.</summary>
    PhiAccessDenied,

    /// <summary>Emergency (break-glass) access started.</summary>
    EmergencyAccessStarted,

    /// <summary>Emergency access ended.</summary>
    EmergencyAccessEnded,

    /// <summary>A signed checkpoint of the audit chain was written.</summary>
    AuditCheckpoint,

    /// <summary>A configuration setting changed (old and new values in the changes).</summary>
    ConfigurationChanged,

    /// <summary>A resource server introspected a token (RFC 7662); the reason says whether it was active.</summary>
    TokenIntrospected,

    /// <summary>A request broke the transport policy (sent over plain http, so any credential in it went in clear) and was not processed.</summary>
    TransportRefused,

    /// <summary>Log-in monitoring (164.308(a)(5)(ii)(C)): a burst of failed sign-ins across accounts; the count and reason say how many and over what window.</summary>
    LoginAlert,

    /// <summary>A user allowed a client what it asked for on the consent page (<c>prompt=consent</c>).</summary>
    ConsentGranted,

    /// <summary>A user refused a client on the consent page; the client was answered <c>access_denied</c>.</summary>
    ConsentDenied,

    /// <summary>A client read a user's claims at <c>/userinfo</c> (or was refused; the reason says why).</summary>
    UserInfoRead,

    /// <summary>
    /// A request a resource allowed (recorded durably before it was served, as <see cref="PhiAccessAllowed"/>) has
    /// completed: the upstream's or endpoint's status and duration, tied to the decision by its correlation id.
    /// </summary>
    PhiAccessCompleted,
}

/// <summary>Outcome of the audited action.</summary>
public enum AuditOutcome
{
    /// <summary>The action succeeded.</summary>
    Success,

    /// <summary>The action was refused by policy.</summary>
    Denied,

    /// <summary>The action failed for a technical reason.</summary>
    Error,
}

/// <summary>What was done to the resource (the FHIR AuditEvent action codes C, R, U, D, E plus search and export).</summary>
public enum AuditAction
{
    /// <summary>Create.</summary>
    Create,

    /// <summary>Read.</summary>
    Read,

    /// <summary>Update.</summary>
    Update,

    /// <summary>Delete.</summary>
    Delete,

    /// <summary>Search.</summary>
    Search,

    /// <summary>Export.</summary>
    Export,

    /// <summary>Execute (a login, an issuance, an operation).</summary>
    Execute,
}

/// <summary>Stable wire names for the audit enums.</summary>
public static class AuditEventTypes
{
    /// <summary>The stable wire name of an event type, for example <c>token.issued</c>.</summary>
    /// <param name="type">The type.</param>
    /// <returns>The wire name.</returns>
    public static string WireName(AuditEventType type) => type switch
    {
        AuditEventType.TokenIssued => "token.issued",
        AuditEventType.TokenRefused => "token.refused",
        AuditEventType.TokenRevoked => "token.revoked",
        AuditEventType.LoginSucceeded => "login.succeeded",
        AuditEventType.LoginFailed => "login.failed",
        AuditEventType.MfaSucceeded => "mfa.succeeded",
        AuditEventType.MfaFailed => "mfa.failed",
        AuditEventType.MfaEnrolled => "mfa.enrolled",
        AuditEventType.MfaRemoved => "mfa.removed",
        AuditEventType.SessionStarted => "session.started",
        AuditEventType.SessionEnded => "session.ended",
        AuditEventType.SessionTimedOut => "session.timed_out",
        AuditEventType.RefreshReuseDetected => "refresh.reuse_detected",
        AuditEventType.KeyCreated => "key.created",
        AuditEventType.KeyActivated => "key.activated",
        AuditEventType.KeyRetired => "key.retired",
        AuditEventType.KeyRevoked => "key.revoked",
        AuditEventType.ClientChanged => "client.changed",
        AuditEventType.UserChanged => "user.changed",
        AuditEventType.PhiAccessAllowed => "phi.access_allowed",
        AuditEventType.PhiAccessDenied => "phi.access_denied",
        AuditEventType.EmergencyAccessStarted => "emergency.started",
        AuditEventType.EmergencyAccessEnded => "emergency.ended",
        AuditEventType.AuditCheckpoint => "audit.checkpoint",
        AuditEventType.ConfigurationChanged => "configuration.changed",
        AuditEventType.TokenIntrospected => "token.introspected",
        AuditEventType.TransportRefused => "transport.refused",
        AuditEventType.LoginAlert => "login.alert",
        AuditEventType.ConsentGranted => "consent.granted",
        AuditEventType.ConsentDenied => "consent.denied",
        AuditEventType.UserInfoRead => "userinfo.read",
        AuditEventType.PhiAccessCompleted => "phi.access_completed",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not an audit event type."),
    };

    /// <summary>The event type a wire name stands for.</summary>
    /// <param name="wireName">A wire name.</param>
    /// <param name="type">The type.</param>
    /// <returns>False for an unknown name.</returns>
    public static bool TryParse(string? wireName, out AuditEventType type) => TryParse(wireName, WireName, out type);

    /// <summary>The outcome a wire name stands for.</summary>
    /// <param name="wireName">A wire name.</param>
    /// <param name="outcome">The outcome.</param>
    /// <returns>False for an unknown name.</returns>
    public static bool TryParse(string? wireName, out AuditOutcome outcome) => TryParse(wireName, WireName, out outcome);

    /// <summary>The action a wire name stands for.</summary>
    /// <param name="wireName">A wire name.</param>
    /// <param name="action">The action.</param>
    /// <returns>False for an unknown name.</returns>
    public static bool TryParse(string? wireName, out AuditAction action) => TryParse(wireName, WireName, out action);

    private static bool TryParse<T>(string? wireName, Func<T, string> nameOf, out T value)
        where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (nameOf(candidate) == wireName)
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The wire name of an outcome: <c>success</c>, <c>denied</c> or <c>error</c>.</summary>
    /// <param name="outcome">The outcome.</param>
    /// <returns>The wire name.</returns>
    public static string WireName(AuditOutcome outcome) => outcome switch
    {
        AuditOutcome.Success => "success",
        AuditOutcome.Denied => "denied",
        AuditOutcome.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };

    /// <summary>The wire name of an action: <c>create</c>, <c>read</c>, <c>update</c>, <c>delete</c>, <c>search</c>, <c>export</c> or <c>execute</c>.</summary>
    /// <param name="action">The action.</param>
    /// <returns>The wire name.</returns>
    public static string WireName(AuditAction action) => action switch
    {
        AuditAction.Create => "create",
        AuditAction.Read => "read",
        AuditAction.Update => "update",
        AuditAction.Delete => "delete",
        AuditAction.Search => "search",
        AuditAction.Export => "export",
        AuditAction.Execute => "execute",
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };
}
