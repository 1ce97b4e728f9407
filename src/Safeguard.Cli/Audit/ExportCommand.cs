using System.CommandLine;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit export</c>: JSON Lines with hashes (re-verifiable), FHIR R4 AuditEvent NDJSON, or CEF.</summary>
internal static class ExportCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var format = new Option<string>("--format") { Description = "jsonl (re-verifiable), fhir (R4 AuditEvent NDJSON) or cef (SIEM).", DefaultValueFactory = _ => "jsonl" };
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (ISO 8601, UTC if no offset)." };
        var until = new Option<string?>("--until") { Description = "Only events before this time." };
        var outFile = new Option<string?>("--out") { Description = "Write to this file instead of standard output." };
        var command = new Command("export", "Export the trail as JSON Lines with hashes, FHIR R4 AuditEvent resources, or CEF lines.");
        foreach (var option in new Option[] { data, database, format, since, until, outFile })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, host =>
        {
            var formatName = parse.GetValue(format)!;
            var (filter, filterError) = AuditTrail.ParseFilter(parse.GetValue(since), parse.GetValue(until), null, null, null, null);
            return AuditEventsWriter.WriteAsync(context, host, formatName, filter, filterError, parse.GetValue(outFile),
                written => $"{written} events exported as {formatName}.", cancellationToken);
        }));
        return command;
    }
}
