using System.CommandLine;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit prove</c>: the inclusion proof of one event under a signed checkpoint, disclosing no other event.</summary>
internal static class ProveCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var eventId = new Argument<string>("event-id") { Description = "The id of the event to prove." };
        var outFile = new Option<string?>("--out") { Description = "Write the proof to this file instead of standard output." };
        var command = new Command("prove", "Print the inclusion proof linking one event to a signed checkpoint (no other event is disclosed).");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(outFile);
        command.Arguments.Add(eventId);
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
        {
            var store = await AuditTrail.OpenAsync(context, host).ConfigureAwait(false);
            if (store is null)
            {
                return ExitCodes.BadInput;
            }

            var proof = await AuditProofs.CreateAsync(store, parse.GetValue(eventId)!, cancellationToken).ConfigureAwait(false);
            if (proof is null)
            {
                await context.Error.WriteLineAsync("No such event, or no checkpoint covers it yet (one is written within the checkpoint interval).").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            if (parse.GetValue(outFile) is { } path)
            {
                await File.WriteAllTextAsync(path, proof, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await context.Output.WriteLineAsync(proof).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return command;
    }
}
