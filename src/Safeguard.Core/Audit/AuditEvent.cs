namespace Safeguard.Audit;

/// <summary>
/// One audit record (164.312(b); NIST SP 800-53 AU-3): who, where, what, why, outcome. It never carries a raw
/// token, secret, password, TOTP code or PHI payload: a <c>jti</c> or a hash stands in for a token, and a patient
/// is named by the id the caller supplies. The chain fields (<see cref="Chain"/>, <see cref="Sequence"/>) are
/// assigned by the writer.
/// </summary>
public sealed record AuditEvent
{
    /// <summary>A unique, time-ordered id (UUIDv7).</summary>
    public required string EventId { get; init; }

    /// <summary>When it happened (UTC, from the injected <see cref="TimeProvider"/>).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>What kind of event this is.</summary>
    public required AuditEventType Type { get; init; }

    /// <summary>The outcome.</summary>
    public required AuditOutcome Outcome { get; init; }

    /// <summary>The chain (writer node) the event was appended to; set by the writer.</summary>
    public string? Chain { get; init; }

    /// <summary>The gapless position in its chain, from 1; set by the writer.</summary>
    public long Sequence { get; init; }

    // Who

    /// <summary>The user or client subject (<c>sub</c>).</summary>
    public string? Subject { get; init; }

    /// <summary>The client (<c>client_id</c>).</summary>
    public string? ClientId { get; init; }

    /// <summary>The actor acting for the subject (<c>act</c>), for delegation or an administrator.</summary>
    public string? Actor { get; init; }

    /// <summary>The session (<c>sid</c>).</summary>
    public string? SessionId { get; init; }

    /// <summary>The token id (<c>jti</c>): never the token itself.</summary>
    public string? TokenId { get; init; }

    /// <summary>The authentication context class (<c>acr</c>).</summary>
    public string? Acr { get; init; }

    /// <summary>The authentication methods (<c>amr</c>).</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>The thumbprint of the key or certificate the token is bound to (<c>cnf</c>).</summary>
    public string? ConfirmationThumbprint { get; init; }

    // Where

    /// <summary>The client's IP address as the server saw it.</summary>
    public string? SourceIp { get; init; }

    /// <summary>The client's user agent (truncated to 512 characters).</summary>
    public string? UserAgent { get; init; }

    /// <summary>The node that recorded the event.</summary>
    public string? NodeId { get; init; }

    // What

    /// <summary>What was done.</summary>
    public AuditAction? Action { get; init; }

    /// <summary>The HTTP method of the request (a resource access).</summary>
    public string? Method { get; init; }

    /// <summary>The route the request matched (its template, such as <c>/fhir/{type}/{id}</c>, never the raw path with its values).</summary>
    public string? Route { get; init; }

    /// <summary>The resource type (for example a FHIR type such as <c>Observation</c>, or <c>client</c>).</summary>
    public string? ResourceType { get; init; }

    /// <summary>The resource id.</summary>
    public string? ResourceId { get; init; }

    /// <summary>The patient the resource belongs to, where the caller supplies one.</summary>
    public string? PatientId { get; init; }

    // Why

    /// <summary>The purpose of use (for example HL7 <c>TREAT</c>, <c>ETREAT</c>, <c>HOPERAT</c>).</summary>
    public string? PurposeOfUse { get; init; }

    /// <summary>Whether this is emergency (break-glass) access.</summary>
    public bool Emergency { get; init; }

    // Outcome detail

    /// <summary>A machine reason code (an <c>SGxxxx</c> code).</summary>
    public string? Reason { get; init; }

    /// <summary>The HTTP status answered, if any.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>The correlation id tying this event to a request.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>How long the request took to be served, in milliseconds (a completed resource access).</summary>
    public long? DurationMs { get; init; }

    /// <summary>
    /// For a summary of repeated refusals (the same refusal from one source within a window, recorded once with a
    /// count rather than one by one): how many this event stands for. Null for an ordinary event.
    /// </summary>
    public int? Count { get; init; }

    /// <summary>For changes to clients, users or configuration: each changed field with old and new value (never a secret).</summary>
    public IReadOnlyList<AuditChange> Changes { get; init; } = [];
}

/// <summary>One changed field, with its value before and after. Secret values are recorded as a hash or "(changed)".</summary>
/// <param name="Field">The field name.</param>
/// <param name="Old">The value before; null if none.</param>
/// <param name="New">The value after; null if removed.</param>
public sealed record AuditChange(string Field, string? Old, string? New);
