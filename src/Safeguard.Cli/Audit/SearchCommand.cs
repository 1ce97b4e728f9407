using System.CommandLine;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit search</c>: events for an auditor, by subject, patient, type, outcome and time.</summary>
internal static class SearchCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var subject = new Option<string?>("--subject") { Description = "Only this subject (sub)." };
        var patient = new Option<string?>("--patient") { Description = "Only this patient id." };
        var type = new Option<string?>("--type") { Description = "Only this event type, for example phi.access_denied." };
        var outcome = new Option<string?>("--outcome") { Description = "success, denied or error." };
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (ISO 8601)." };
        var until = new Option<string?>("--until") { Description = "Only events before this time." };
        var format = new Option<string>("--format") { Description = "jsonl (default), fhir or cef.", DefaultValueFactory = _ => "jsonl" };
        var command = new Command("search", "Find events for an auditor: by subject, patient, type, outcome and time range.");
        foreach (var option in new Option[] { data, database, subject, patient, type, outcome, since, until, format })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, host =>
        {
            var (filter, filterError) = AuditTrail.ParseFilter(
                parse.GetValue(since), parse.GetValue(until), parse.GetValue(subject), parse.GetValue(patient), parse.GetValue(type), parse.GetValue(outcome));
            return AuditEventsWriter.WriteAsync(context, host, parse.GetValue(format)!, filter, filterError, null,
                found => $"{found} matching events. Run 'safeguard audit verify' to confirm the trail they come from is intact.", cancellationToken);
        }));
        return command;
    }
}
