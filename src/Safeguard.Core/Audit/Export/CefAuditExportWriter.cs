using System.Buffers;
using System.Globalization;
using System.Text;

namespace Safeguard.Audit;

/// <summary>ArcSight Common Event Format lines (CEF rev 25), for a SIEM over syslog.</summary>
internal sealed class CefAuditExportWriter : IAuditExportWriter
{
    /// <summary>One CEF line (ArcSight CEF rev 25): header fields escape <c>\</c> and <c>|</c>; extension values escape <c>\</c>, <c>=</c> and line breaks.</summary>
    public bool NeedsEvent => true;

    public string? Header(bool filtered) => null;

    public bool WriteCheckpoint(IBufferWriter<byte> buffer, string chain, AuditCheckpoint checkpoint) => false;

    public void WriteEvent(IBufferWriter<byte> buffer, AuditRecord record, AuditEvent? parsed, byte[] previous) =>
        buffer.Write(Encoding.UTF8.GetBytes(Line(parsed ?? throw new ArgumentNullException(nameof(parsed)), record)));

    private static string Line(AuditEvent e, AuditRecord record)
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
        Add("cnt", e.Count?.ToString(CultureInfo.InvariantCulture));
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
