using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Safeguard.Audit;

/// <summary>Export formats.</summary>
public enum AuditExportFormat
{
    /// <summary>JSON Lines: each event verbatim with its sequence number, previous hash and hash, plus the checkpoints; re-verifiable.</summary>
    Jsonl,

    /// <summary>FHIR R4 <c>AuditEvent</c> resources as NDJSON (DICOM/HL7 codes; emergency access coded as break-glass).</summary>
    Fhir,

    /// <summary>ArcSight Common Event Format lines, for a SIEM over syslog.</summary>
    Cef,
}

/// <summary>Which events an export or a search takes.</summary>
public sealed record AuditFilter
{
    /// <summary>Events at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Events before this time.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>Only this subject.</summary>
    public string? Subject { get; init; }

    /// <summary>Only this patient.</summary>
    public string? PatientId { get; init; }

    /// <summary>Only this event type.</summary>
    public AuditEventType? Type { get; init; }

    /// <summary>Only this outcome.</summary>
    public AuditOutcome? Outcome { get; init; }

    /// <summary>Whether the filter asks for anything beyond a time range (so events must be parsed).</summary>
    internal bool HasEventCriteria => Subject is not null || PatientId is not null || Type is not null || Outcome is not null;

    internal bool Matches(AuditEvent e) =>
        (Subject is null || string.Equals(e.Subject, Subject, StringComparison.Ordinal))
        && (PatientId is null || string.Equals(e.PatientId, PatientId, StringComparison.Ordinal))
        && (Type is null || e.Type == Type)
        && (Outcome is null || e.Outcome == Outcome)
        && (Since is null || e.Time >= Since)
        && (Until is null || e.Time < Until);
}

/// <summary>Writes the trail (or a filtered part of it) as JSON Lines, FHIR R4 AuditEvent NDJSON or CEF.</summary>
public static class AuditExport
{
    /// <summary>The <c>format</c> named by the first line of a JSON Lines export.</summary>
    public const string JsonlFormat = "safeguard-audit-jsonl/v1";

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = false };

    /// <summary>Exports every chain, in sequence order, one line per event (and, for JSON Lines, per checkpoint).</summary>
    /// <param name="store">The trail.</param>
    /// <param name="output">Where lines go.</param>
    /// <param name="format">The format.</param>
    /// <param name="filter">Which events; null for all.</param>
    /// <param name="cancellationToken">Cancels the export.</param>
    /// <returns>How many events were written.</returns>
    public static async Task<long> ExportAsync(IAuditStore store, TextWriter output, AuditExportFormat format, AuditFilter? filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(output);
        filter ??= new AuditFilter();
        long written = 0;
        var buffer = new ArrayBufferWriter<byte>(2048);
        if (format == AuditExportFormat.Jsonl)
        {
            var filtered = filter.Since is not null || filter.Until is not null || filter.HasEventCriteria;
            await output.WriteLineAsync($"{{\"format\":\"{JsonlFormat}\",\"filtered\":{(filtered ? "true" : "false")}}}").ConfigureAwait(false);
        }

        foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
        {
            var checkpoints = (await store.GetCheckpointsAsync(chain, cancellationToken).ConfigureAwait(false)).ToDictionary(c => c.Sequence);
            var previous = AuditHash.Genesis(chain);
            await foreach (var record in store.ReadChainAsync(chain, 1, cancellationToken).ConfigureAwait(false))
            {
                var inRange = (filter.Since is null || record.Time >= filter.Since) && (filter.Until is null || record.Time < filter.Until);
                AuditEvent? parsed = null;
                if (inRange && (filter.HasEventCriteria || format != AuditExportFormat.Jsonl))
                {
                    inRange = AuditEventParser.TryParse(record.Body, out var e) && filter.Matches(e);
                    parsed = e;
                }

                if (inRange)
                {
                    buffer.ResetWrittenCount();
                    switch (format)
                    {
                        case AuditExportFormat.Jsonl:
                            WriteJsonl(buffer, record, previous);
                            break;
                        case AuditExportFormat.Fhir:
                            WriteFhir(buffer, parsed!, record);
                            break;
                        default:
                            buffer.Write(Encoding.UTF8.GetBytes(Cef(parsed!, record)));
                            break;
                    }

                    await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan)).ConfigureAwait(false);
                    written++;

                    if (format == AuditExportFormat.Jsonl && checkpoints.TryGetValue(record.Sequence, out var checkpoint))
                    {
                        buffer.ResetWrittenCount();
                        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
                        {
                            writer.WriteStartObject();
                            writer.WriteString("chain", chain);
                            writer.WriteNumber("checkpoint", checkpoint.Sequence);
                            writer.WriteString("jws", checkpoint.Jws);
                            writer.WriteEndObject();
                        }

                        await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan)).ConfigureAwait(false);
                    }
                }

                previous = record.Hash;
            }
        }

        return written;
    }

    private static void WriteJsonl(ArrayBufferWriter<byte> buffer, AuditRecord record, byte[] previous)
    {
        using var writer = new Utf8JsonWriter(buffer, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("chain", record.Chain);
        writer.WriteNumber("seq", record.Sequence);
        writer.WriteString("prev", Convert.ToHexStringLower(previous));
        writer.WriteString("hash", Convert.ToHexStringLower(record.Hash));
        writer.WritePropertyName("event");
        try
        {
            // The canonical bytes go out verbatim, so the line can be re-hashed exactly.
            writer.WriteRawValue(record.Body);
        }
        catch (JsonException)
        {
            writer.WriteBase64StringValue(record.Body);
        }

        writer.WriteEndObject();
    }

    private static void WriteFhir(ArrayBufferWriter<byte> buffer, AuditEvent e, AuditRecord record)
    {
        using var w = new Utf8JsonWriter(buffer, WriterOptions);
        var (typeCode, typeDisplay, subtypeCode, subtypeDisplay) = DicomType(e.Type);
        w.WriteStartObject();
        w.WriteString("resourceType", "AuditEvent");
        w.WriteString("id", e.EventId);

        w.WriteStartArray("extension");
        w.WriteStartObject();
        w.WriteString("url", "urn:safeguard:fhir:audit-chain");
        w.WriteStartArray("extension");
        Extension(w, "chain", record.Chain);
        Extension(w, "seq", record.Sequence.ToString(CultureInfo.InvariantCulture));
        Extension(w, "hash", Convert.ToHexStringLower(record.Hash));
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();

        w.WriteStartObject("type");
        Coding(w, "http://dicom.nema.org/resources/ontology/DCM", typeCode, typeDisplay);
        w.WriteEndObject();
        w.WriteStartArray("subtype");
        if (subtypeCode is not null)
        {
            w.WriteStartObject();
            Coding(w, "http://dicom.nema.org/resources/ontology/DCM", subtypeCode, subtypeDisplay!);
            w.WriteEndObject();
        }

        w.WriteStartObject();
        Coding(w, "urn:safeguard:audit-event-type", AuditEventTypes.WireName(e.Type), AuditEventTypes.WireName(e.Type));
        w.WriteEndObject();
        w.WriteEndArray();

        w.WriteString("action", e.Action switch
        {
            AuditAction.Create => "C",
            AuditAction.Read => "R",
            AuditAction.Update => "U",
            AuditAction.Delete => "D",
            _ => "E",
        });
        w.WriteString("recorded", AuditCanonicalJson.FormatTime(e.Time));
        w.WriteString("outcome", e.Outcome switch { AuditOutcome.Success => "0", AuditOutcome.Denied => "4", _ => "8" });
        if (e.Reason is not null || e.HttpStatus is not null)
        {
            w.WriteString("outcomeDesc", string.Join(' ', new[] { e.Reason, e.HttpStatus?.ToString(CultureInfo.InvariantCulture) }.Where(s => s is not null)));
        }

        if (e.PurposeOfUse is not null || e.Emergency)
        {
            w.WriteStartArray("purposeOfEvent");
            if (e.PurposeOfUse is not null)
            {
                w.WriteStartObject();
                w.WriteStartArray("coding");
                w.WriteStartObject();
                Coding(w, "http://terminology.hl7.org/CodeSystem/v3-ActReason", e.PurposeOfUse, null);
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }

            if (e.Emergency)
            {
                // Emergency access is break-glass (HL7 v3 ActReason BTG).
                w.WriteStartObject();
                w.WriteStartArray("coding");
                w.WriteStartObject();
                Coding(w, "http://terminology.hl7.org/CodeSystem/v3-ActReason", "BTG", "break the glass");
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteStartArray("agent");
        w.WriteStartObject();
        w.WriteStartObject("who");
        w.WriteStartObject("identifier");
        w.WriteString("system", "urn:safeguard:subject");
        w.WriteString("value", e.Subject ?? e.ClientId ?? "unknown");
        w.WriteEndObject();
        w.WriteEndObject();
        if (e.Actor is not null)
        {
            w.WriteString("altId", e.Actor);
        }

        w.WriteBoolean("requestor", true);
        if (e.SourceIp is not null)
        {
            w.WriteStartObject("network");
            w.WriteString("address", e.SourceIp);
            w.WriteString("type", "2");
            w.WriteEndObject();
        }

        if (e.TokenId is not null)
        {
            w.WriteStartArray("policy");
            w.WriteStringValue("urn:safeguard:jti:" + e.TokenId);
            w.WriteEndArray();
        }

        w.WriteEndObject();
        if (e.ClientId is not null)
        {
            w.WriteStartObject();
            w.WriteStartObject("type");
            w.WriteStartArray("coding");
            w.WriteStartObject();
            Coding(w, "http://dicom.nema.org/resources/ontology/DCM", "110150", "Application");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("who");
            w.WriteStartObject("identifier");
            w.WriteString("system", "urn:safeguard:client");
            w.WriteString("value", e.ClientId);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteBoolean("requestor", false);
            w.WriteEndObject();
        }

        w.WriteEndArray();

        w.WriteStartObject("source");
        w.WriteString("site", e.NodeId ?? record.Chain);
        w.WriteStartObject("observer");
        w.WriteString("display", "Safeguard " + record.Chain);
        w.WriteEndObject();
        w.WriteStartArray("type");
        w.WriteStartObject();
        Coding(w, "http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server");
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();

        if (e.PatientId is not null || e.ResourceType is not null)
        {
            w.WriteStartArray("entity");
            if (e.PatientId is not null)
            {
                w.WriteStartObject();
                w.WriteStartObject("what");
                w.WriteString("reference", "Patient/" + e.PatientId);
                w.WriteEndObject();
                w.WriteStartObject("type");
                Coding(w, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person");
                w.WriteEndObject();
                w.WriteStartObject("role");
                Coding(w, "http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient");
                w.WriteEndObject();
                w.WriteEndObject();
            }

            if (e.ResourceType is not null)
            {
                w.WriteStartObject();
                w.WriteStartObject("what");
                if (e.ResourceId is not null)
                {
                    w.WriteString("reference", e.ResourceType + "/" + e.ResourceId);
                }
                else
                {
                    w.WriteString("display", e.ResourceType);
                }

                w.WriteEndObject();
                w.WriteStartObject("type");
                Coding(w, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    /// <summary>The DICOM type (and subtype) of an event type (DICOM PS3.15 A.5, as FHIR's AuditEvent uses).</summary>
    private static (string Type, string TypeDisplay, string? Subtype, string? SubtypeDisplay) DicomType(AuditEventType type) => type switch
    {
        AuditEventType.PhiAccessAllowed or AuditEventType.PhiAccessDenied => ("110110", "Patient Record", null, null),
        AuditEventType.LoginSucceeded or AuditEventType.LoginFailed or AuditEventType.MfaSucceeded or AuditEventType.MfaFailed
            or AuditEventType.SessionStarted => ("110114", "User Authentication", "110122", "Login"),
        AuditEventType.SessionEnded or AuditEventType.SessionTimedOut => ("110114", "User Authentication", "110123", "Logout"),
        AuditEventType.TokenIssued or AuditEventType.TokenRefused or AuditEventType.TokenRevoked or AuditEventType.TokenIntrospected
            => ("110114", "User Authentication", null, null),
        AuditEventType.EmergencyAccessStarted => ("110113", "Security Alert", "110127", "Emergency Override Started"),
        AuditEventType.EmergencyAccessEnded => ("110113", "Security Alert", "110138", "Emergency Override Stopped"),
        AuditEventType.ClientChanged or AuditEventType.UserChanged or AuditEventType.MfaEnrolled or AuditEventType.MfaRemoved
            => ("110113", "Security Alert", "110137", "User Security Attributes Changed"),
        AuditEventType.KeyCreated or AuditEventType.KeyActivated or AuditEventType.KeyRetired or AuditEventType.KeyRevoked
            or AuditEventType.ConfigurationChanged => ("110113", "Security Alert", "110129", "Security Configuration"),
        AuditEventType.RefreshReuseDetected or AuditEventType.TokenRefused => ("110113", "Security Alert", null, null),
        _ => ("110100", "Application Activity", null, null),
    };

    private static void Coding(Utf8JsonWriter w, string system, string code, string? display)
    {
        w.WriteString("system", system);
        w.WriteString("code", code);
        if (display is not null)
        {
            w.WriteString("display", display);
        }
    }

    private static void Extension(Utf8JsonWriter w, string url, string value)
    {
        w.WriteStartObject();
        w.WriteString("url", url);
        w.WriteString("valueString", value);
        w.WriteEndObject();
    }

    /// <summary>One CEF line (ArcSight CEF rev 25): header fields escape <c>\</c> and <c>|</c>; extension values escape <c>\</c>, <c>=</c> and line breaks.</summary>
    private static string Cef(AuditEvent e, AuditRecord record)
    {
        var type = AuditEventTypes.WireName(e.Type);
        var severity = e.Emergency ? 9 : e.Outcome switch { AuditOutcome.Success => 3, AuditOutcome.Denied => 6, _ => 8 };
        var text = new StringBuilder(512);
        text.Append("CEF:0|Safeguard|Safeguard|1.0|").Append(Header(type)).Append('|').Append(Header(type.Replace('.', ' ').Replace('_', ' ')))
            .Append('|').Append(severity.ToString(CultureInfo.InvariantCulture)).Append('|');
        var first = true;
        void Add(string key, string? value)
        {
            if (value is null)
            {
                return;
            }

            if (!first)
            {
                text.Append(' ');
            }

            first = false;
            text.Append(key).Append('=').Append(Value(value));
        }

        Add("rt", e.Time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
        Add("externalId", e.EventId);
        Add("outcome", AuditEventTypes.WireName(e.Outcome));
        Add("reason", e.Reason);
        Add("suser", e.Subject);
        Add("src", e.SourceIp);
        Add("requestClientApplication", e.UserAgent);
        Add("act", e.Action is { } action ? AuditEventTypes.WireName(action) : null);
        Add("request", e.ResourceType is null ? null : e.ResourceId is null ? e.ResourceType : e.ResourceType + "/" + e.ResourceId);
        Add("dvchost", e.NodeId);
        Add("cs1Label", "chain");
        Add("cs1", record.Chain);
        Add("cn1Label", "seq");
        Add("cn1", record.Sequence.ToString(CultureInfo.InvariantCulture));
        Add("cs2Label", "patientId");
        Add("cs2", e.PatientId);
        Add("cs3Label", "clientId");
        Add("cs3", e.ClientId);
        Add("cs4Label", "jti");
        Add("cs4", e.TokenId);
        Add("cs5Label", "purposeOfUse");
        Add("cs5", e.Emergency ? (e.PurposeOfUse ?? "ETREAT") + " break-glass" : e.PurposeOfUse);
        Add("cs6Label", "hash");
        Add("cs6", Convert.ToHexStringLower(record.Hash));
        return text.ToString();
    }

    private static string Header(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);

    private static string Value(string value) => value
        .Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("=", "\\=", StringComparison.Ordinal)
        .Replace("\r", "\\r", StringComparison.Ordinal)
        .Replace("\n", "\\n", StringComparison.Ordinal);
}
