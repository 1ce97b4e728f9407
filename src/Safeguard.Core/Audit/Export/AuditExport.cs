using System.Buffers;
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

/// <summary>One export format: a line per event (and, where the format has them, per checkpoint).</summary>
internal interface IAuditExportWriter
{
    /// <summary>Whether the writer needs the parsed event (JSON Lines writes the stored bytes verbatim).</summary>
    bool NeedsEvent { get; }

    /// <summary>The first line, or null for none.</summary>
    string? Header(bool filtered);

    /// <summary>Writes one event's line.</summary>
    void WriteEvent(IBufferWriter<byte> buffer, AuditRecord record, AuditEvent? parsed, byte[] previous);

    /// <summary>Writes the line of the checkpoint that follows an event; false when the format has no checkpoint lines.</summary>
    bool WriteCheckpoint(IBufferWriter<byte> buffer, string chain, AuditCheckpoint checkpoint);
}

/// <summary>Writes the trail (or a filtered part of it) as JSON Lines, FHIR R4 AuditEvent NDJSON or CEF.</summary>
public static class AuditExport
{
    /// <summary>The <c>format</c> named by the first line of a JSON Lines export.</summary>
    public const string JsonlFormat = JsonlAuditExportWriter.Format;

    /// <summary>Compact JSON for every JSON format.</summary>
    internal static JsonWriterOptions WriterOptions { get; } = new() { Indented = false, SkipValidation = false };

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
        IAuditExportWriter exporter = format switch
        {
            AuditExportFormat.Jsonl => new JsonlAuditExportWriter(),
            AuditExportFormat.Fhir => new FhirAuditExportWriter(),
            _ => new CefAuditExportWriter(),
        };
        long written = 0;
        var buffer = new ArrayBufferWriter<byte>(2048);
        var filtered = filter.Since is not null || filter.Until is not null || filter.HasEventCriteria;
        if (exporter.Header(filtered) is { } header)
        {
            await output.WriteLineAsync(header).ConfigureAwait(false);
        }

        foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
        {
            var checkpoints = (await store.GetCheckpointsAsync(chain, cancellationToken).ConfigureAwait(false)).ToDictionary(c => c.Sequence);
            var previous = AuditHash.Genesis(chain);
            await foreach (var record in store.ReadChainAsync(chain, 1, cancellationToken).ConfigureAwait(false))
            {
                var inRange = (filter.Since is null || record.Time >= filter.Since) && (filter.Until is null || record.Time < filter.Until);
                AuditEvent? parsed = null;
                if (inRange && (filter.HasEventCriteria || exporter.NeedsEvent))
                {
                    inRange = AuditEventParser.TryParse(record.Body, out var e) && filter.Matches(e);
                    parsed = e;
                }

                if (inRange)
                {
                    buffer.ResetWrittenCount();
                    exporter.WriteEvent(buffer, record, parsed, previous);
                    await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan)).ConfigureAwait(false);
                    written++;

                    buffer.ResetWrittenCount();
                    if (checkpoints.TryGetValue(record.Sequence, out var checkpoint) && exporter.WriteCheckpoint(buffer, chain, checkpoint))
                    {
                        await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan)).ConfigureAwait(false);
                    }
                }

                previous = record.Hash;
            }
        }

        return written;
    }
}
