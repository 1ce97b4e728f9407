using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Safeguard.Audit;

/// <summary>FHIR R4 <c>AuditEvent</c> resources as NDJSON, coded as DICOM PS3.15 and HL7 v3 (emergency access as break-glass).</summary>
internal sealed class FhirAuditExportWriter : IAuditExportWriter
{
    public bool NeedsEvent => true;

    public string? Header(bool filtered) => null;

    public bool WriteCheckpoint(IBufferWriter<byte> buffer, string chain, AuditCheckpoint checkpoint) => false;

    public void WriteEvent(IBufferWriter<byte> buffer, AuditRecord record, AuditEvent? parsed, byte[] previous)
    {
        var e = parsed ?? throw new ArgumentNullException(nameof(parsed));
        using var w = new Utf8JsonWriter(buffer, AuditExport.WriterOptions);
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
            w.WriteString("outcomeDesc", string.Join(' ', new[] { e.Reason, e.HttpStatus?.ToString(CultureInfo.InvariantCulture), e.Count is { } count ? $"(x{count.ToString(CultureInfo.InvariantCulture)})" : null }.Where(s => s is not null)));
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
        AuditEventType.PhiAccessAllowed or AuditEventType.PhiAccessDenied or AuditEventType.PhiAccessCompleted => ("110110", "Patient Record", null, null),
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
        AuditEventType.RefreshReuseDetected or AuditEventType.TokenRefused or AuditEventType.TransportRefused => ("110113", "Security Alert", null, null),
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
}
