using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary>When a protected request's audit event is written, relative to the request being served.</summary>
public enum SafeguardAuditMode
{
    /// <summary>The request reaches the endpoint only once its allowed-decision event is committed (the default).</summary>
    Durable,

    /// <summary>
    /// The request proceeds at once; its event (with the endpoint's status and duration) is queued and committed within
    /// <see cref="SafeguardAuditOptions.BufferedCommitBound"/>. While the trail cannot take events the request is refused with 503.
    /// </summary>
    Buffered,
}

/// <summary>
/// Marks an endpoint's audit: its <see cref="Mode"/>, whether its route is a FHIR REST route (the resource type and id
/// are then read from the path), and where the patient it concerns is named. Every endpoint that requires
/// authorization is audited; this only tunes how.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class SafeguardAuditAttribute : Attribute
{
    /// <summary>Durable (the default) or Buffered.</summary>
    public SafeguardAuditMode Mode { get; set; } = SafeguardAuditMode.Durable;

    /// <summary>
    /// The route is FHIR REST (<c>[base]/{type}/{id}</c>, <c>[base]/{type}?...</c>, <c>[base]/Patient/{id}/{type}</c>):
    /// the event records the resource type, the id and, for a Patient compartment, the patient.
    /// </summary>
    public bool Fhir { get; set; }

    /// <summary>The path prefix before the FHIR type (such as <c>/fhir</c>); empty for a FHIR server at the root.</summary>
    public string FhirBase { get; set; } = string.Empty;

    /// <summary>Where the patient is named (a route value, query parameter or header), for the event and the patient-compartment policy.</summary>
    public SafeguardPatientSource? Patient { get; set; }
}

/// <summary>Where a request names the patient it concerns.</summary>
/// <param name="Kind">A route value, a query parameter or a header.</param>
/// <param name="Name">Its name.</param>
public sealed record SafeguardPatientSource(SafeguardPatientSourceKind Kind, string Name)
{
    /// <summary>A route value, such as <c>{patientId}</c>.</summary>
    /// <param name="name">The route value's name.</param>
    /// <returns>The source.</returns>
    public static SafeguardPatientSource RouteValue(string name) => new(SafeguardPatientSourceKind.RouteValue, name);

    /// <summary>A query parameter, such as FHIR's <c>patient</c> or <c>subject</c>.</summary>
    /// <param name="name">The parameter's name.</param>
    /// <returns>The source.</returns>
    public static SafeguardPatientSource Query(string name) => new(SafeguardPatientSourceKind.Query, name);

    /// <summary>A request header, such as <c>X-Patient-Id</c>.</summary>
    /// <param name="name">The header's name.</param>
    /// <returns>The source.</returns>
    public static SafeguardPatientSource Header(string name) => new(SafeguardPatientSourceKind.Header, name);
}

/// <summary>The kinds of <see cref="SafeguardPatientSource"/>.</summary>
public enum SafeguardPatientSourceKind
{
    /// <summary>A route value.</summary>
    RouteValue,

    /// <summary>A query parameter.</summary>
    Query,

    /// <summary>A request header.</summary>
    Header,
}

/// <summary>
/// Where the resource side keeps its own audit trail, and how requests wait for it. The trail is a hash chain with
/// signed checkpoints like the server's (<c>safeguard audit verify --data DATA</c> checks it): SQLite in
/// <see cref="DataPath"/> by default, PostgreSQL when <see cref="PostgresConnectionString"/> is set.
/// </summary>
public sealed class SafeguardAuditOptions
{
    /// <summary>
    /// The resource's data folder: its key-encryption key, the audit signing key, the SQLite audit database and the
    /// checkpoint copies. Required; never the authorization server's own folder.
    /// </summary>
    public string DataPath { get; set; } = string.Empty;

    /// <summary>A PostgreSQL connection string for the trail (the schema is created by <c>safeguard init</c>); null for SQLite in <see cref="DataPath"/>.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>The chain this node writes; null for the folder's default (machine name and folder id).</summary>
    public string? ChainId { get; set; }

    /// <summary>The mode of endpoints that do not name one. Default <see cref="SafeguardAuditMode.Durable"/>.</summary>
    public SafeguardAuditMode DefaultMode { get; set; } = SafeguardAuditMode.Durable;

    /// <summary>
    /// The longest a Buffered event may wait to be committed. While queued events have waited longer (the store is
    /// slow or down) new requests are refused with 503. Default and most 1 second; at least 50 ms.
    /// </summary>
    public TimeSpan BufferedCommitBound { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest a Durable request waits for its event to commit before it is refused with 503. Default 5 seconds; 100 ms to 30 seconds.</summary>
    public TimeSpan DurableCommitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many events may wait to be written; past it requests are refused with 503. Default 65,536.</summary>
    public int QueueCapacity { get; set; } = 65_536;

    /// <summary>A directory outside the data folder that receives a copy of every checkpoint (recommended); null for DATA/audit-checkpoints.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>
    /// Requests refused without a verified token (anyone can send them): the first of a kind (source address, reason
    /// code) in this window is an event of its own, the rest of the window one summary event with their count, so a
    /// flood of junk cannot fill the trail. Default 1 minute; 1 second to 1 hour.
    /// </summary>
    public TimeSpan RefusalSummaryWindow { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Checks <see cref="SafeguardAuditOptions"/> at start-up, every problem at once.</summary>
public sealed class SafeguardAuditOptionsValidator : IValidateOptions<SafeguardAuditOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SafeguardAuditOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataPath))
        {
            errors.Add("SafeguardAudit: DataPath must name this resource's data folder (its audit keys and trail).");
        }

        if (options.PostgresConnectionString is { } connection && string.IsNullOrWhiteSpace(connection))
        {
            errors.Add("SafeguardAudit: PostgresConnectionString is empty; set one, or remove it for SQLite in the data folder.");
        }

        if (options.ChainId is { } chain && (chain.Length is 0 or > 64 || !chain.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
        {
            errors.Add($"SafeguardAudit: ChainId is '{chain}'; use 1 to 64 letters, digits, '.', '_' or '-'.");
        }

        if (!Enum.IsDefined(options.DefaultMode))
        {
            errors.Add($"SafeguardAudit: DefaultMode is {options.DefaultMode}; use Durable or Buffered.");
        }

        if (options.BufferedCommitBound < TimeSpan.FromMilliseconds(50) || options.BufferedCommitBound > TimeSpan.FromSeconds(1))
        {
            errors.Add($"SafeguardAudit: BufferedCommitBound is {options.BufferedCommitBound}; set 50 ms to 1 second.");
        }

        if (options.DurableCommitTimeout < TimeSpan.FromMilliseconds(100) || options.DurableCommitTimeout > TimeSpan.FromSeconds(30))
        {
            errors.Add($"SafeguardAudit: DurableCommitTimeout is {options.DurableCommitTimeout}; set 100 ms to 30 seconds.");
        }

        if (options.QueueCapacity is < 16 or > 4_194_304)
        {
            errors.Add($"SafeguardAudit: QueueCapacity is {options.QueueCapacity}; set 16 to 4,194,304.");
        }

        if (options.CheckpointDirectory is { } directory && string.IsNullOrWhiteSpace(directory))
        {
            errors.Add("SafeguardAudit: CheckpointDirectory is empty; set a directory, or remove it for DATA/audit-checkpoints.");
        }

        if (options.RefusalSummaryWindow < TimeSpan.FromSeconds(1) || options.RefusalSummaryWindow > TimeSpan.FromHours(1))
        {
            errors.Add($"SafeguardAudit: RefusalSummaryWindow is {options.RefusalSummaryWindow}; use 00:00:01 to 01:00:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
