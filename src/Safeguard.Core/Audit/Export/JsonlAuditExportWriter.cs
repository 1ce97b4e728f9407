using System.Buffers;
using System.Text.Json;

namespace Safeguard.Audit;

/// <summary>
/// JSON Lines that verify on their own (<see cref="AuditJsonlVerifier"/>): a header line naming the format, each event
/// verbatim with its chain, sequence number, previous hash and hash, and each checkpoint's JWS after the event it covers.
/// </summary>
internal sealed class JsonlAuditExportWriter : IAuditExportWriter
{
    /// <summary>The <c>format</c> of the header line.</summary>
    public const string Format = "safeguard-audit-jsonl/v1";

    public bool NeedsEvent => false;

    public string? Header(bool filtered) => $"{{\"format\":\"{Format}\",\"filtered\":{(filtered ? "true" : "false")}}}";

    public void WriteEvent(IBufferWriter<byte> buffer, AuditRecord record, AuditEvent? parsed, byte[] previous)
    {
        using var writer = new Utf8JsonWriter(buffer, AuditExport.WriterOptions);
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

    public bool WriteCheckpoint(IBufferWriter<byte> buffer, string chain, AuditCheckpoint checkpoint)
    {
        using var writer = new Utf8JsonWriter(buffer, AuditExport.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("chain", chain);
        writer.WriteNumber("checkpoint", checkpoint.Sequence);
        writer.WriteString("jws", checkpoint.Jws);
        writer.WriteEndObject();
        return true;
    }
}
