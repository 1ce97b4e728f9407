namespace Safeguard;

/// <summary>
/// The one catalogue of operational log event ids (<c>[LoggerMessage(EventId = ...)]</c>), grouped like the error
/// codes: 1xxx tokens and keys, 2xxx issuance, 3xxx clients, 4xxx sign-in, 8xxx the server host, 9xxx audit. An id is never
/// reused for another message. Operational logs never carry tokens, secrets or PHI.
/// </summary>
public static class LogEvents
{
    /// <summary>An access token was rejected before its signature verified.</summary>
    public const int AccessTokenRejected = 1001;

    /// <summary>An access token was rejected after its signature verified.</summary>
    public const int AccessTokenRejectedAfterSignature = 1002;

    /// <summary>A signing key was created.</summary>
    public const int SigningKeyCreated = 1101;

    /// <summary>A signing key changed state.</summary>
    public const int SigningKeyStateChanged = 1102;

    /// <summary>A signing key was revoked.</summary>
    public const int SigningKeyRevoked = 1103;

    /// <summary>A pending key was activated early because no key was active.</summary>
    public const int SigningKeyPromotedEarly = 1104;

    /// <summary>A signing key past retention was deleted.</summary>
    public const int SigningKeyPurged = 1105;

    /// <summary>A key lifecycle handler failed.</summary>
    public const int SigningKeyHandlerFailed = 1106;

    /// <summary>Key-ring maintenance failed (retried).</summary>
    public const int KeyMaintenanceFailed = 1107;

    /// <summary>Issuance was refused.</summary>
    public const int IssuanceRefused = 2001;

    /// <summary>A client assertion was rejected.</summary>
    public const int ClientAssertionRejected = 3001;

    /// <summary>Retired: clients are no longer loaded on first use (an id is not reused).</summary>
    public const int ClientLoadedOnFirstUse = 3002;

    /// <summary>A periodic reload of clients or revocations failed (retried).</summary>
    public const int SyncFailed = 3003;

    /// <summary>The revocation feed could not read the database (retried every 500 ms).</summary>
    public const int RevocationFeedReadFailed = 3004;

    /// <summary>The revocation feed lost its database push channel (PostgreSQL LISTEN); it polls until it listens again.</summary>
    public const int RevocationFeedListenLost = 3005;

    /// <summary>The revocation feed listens to its database's pushes again.</summary>
    public const int RevocationFeedListening = 3006;

    /// <summary>A resource server's handler refused a request's token (debug: the code, never the token).</summary>
    public const int ResourceTokenRefused = 7004;

    /// <summary>A resource server could not read its authority's keys (the known keys stay trusted).</summary>
    public const int AuthorityKeysUnreachable = 7001;

    /// <summary>A resource server refused its authority's discovery document or JWKS.</summary>
    public const int AuthorityKeysRefused = 7002;

    /// <summary>A resource server skipped one published key.</summary>
    public const int AuthorityKeySkipped = 7003;

    /// <summary>A resource's audit trail could not take a request's event; the request was refused with 503.</summary>
    public const int ResourceAuditUnavailable = 7005;

    /// <summary>A resource's queued audit events waited past the Buffered bound; requests are refused until it commits again.</summary>
    public const int ResourceAuditLagging = 7006;

    /// <summary>A resource's audit trail commits again.</summary>
    public const int ResourceAuditCaughtUp = 7007;

    /// <summary>A completed resource request's audit event could not be queued (the trail stopped taking events while it ran).</summary>
    public const int ResourceAuditEventLost = 7011;

    /// <summary>The gateway refused a request (its token, or a route requirement); the reason code is in the audit trail too.</summary>
    public const int GatewayRequestRefused = 7012;

    /// <summary>A resource cannot follow its authority's revocation feed (retrying).</summary>
    public const int RevocationFeedUnreachable = 7009;

    /// <summary>A resource follows its authority's revocation feed again.</summary>
    public const int RevocationFeedRecovered = 7010;

    /// <summary>A resource request was refused by an authorization policy (debug: the requirement, never the token).</summary>
    public const int ResourceRequestForbidden = 7008;

    /// <summary>The server is ready.</summary>
    public const int ServerReady = 8001;

    /// <summary>No user can sign in yet: an enrolment link for the first administrator was printed to standard output.</summary>
    public const int FirstAdministratorLink = 4002;

    /// <summary>A back-channel logout could not be delivered to a client after every attempt.</summary>
    public const int BackchannelLogoutFailed = 4003;

    /// <summary>Back-channel logout could not read an ended session (its clients are not told).</summary>
    public const int BackchannelLogoutSessionUnreadable = 4006;

    /// <summary>The back-channel logout queue was full: a session's clients are not told it ended.</summary>
    public const int BackchannelLogoutQueueFull = 4004;

    /// <summary>A back-channel logout's outcome could not be queued for the audit trail.</summary>
    public const int BackchannelLogoutNotAudited = 4005;

    /// <summary>Log-in monitoring: a burst of failed sign-ins across accounts (also a <c>login.alert</c> audit event).</summary>
    public const int LoginAlert = 4001;

    /// <summary>A request was answered 503 because the audit trail could not record it.</summary>
    public const int AuditUnavailableRefusal = 8002;

    /// <summary>The audit queue was full.</summary>
    public const int AuditQueueFull = 9001;

    /// <summary>Audit checkpoints are copied only into the data folder (a warning at start).</summary>
    public const int AuditCheckpointsOnlyInDataFolder = 9008;

    /// <summary>An audit store write failed.</summary>
    public const int AuditStoreFailed = 9002;

    /// <summary>The audit store is writable again.</summary>
    public const int AuditStoreRecovered = 9003;

    /// <summary>A checkpoint could not be copied to the sink.</summary>
    public const int AuditCheckpointExportFailed = 9004;

    /// <summary>The audit writer stopped on an internal error.</summary>
    public const int AuditWriterCrashed = 9005;

    /// <summary>The audit writer stopped with events it could not make durable.</summary>
    public const int AuditWriterStoppedWithLeftovers = 9006;

    /// <summary>A summary of repeated refusals could not be queued for the audit trail; it is kept and retried.</summary>
    public const int RefusalSummaryDeferred = 9007;
}
