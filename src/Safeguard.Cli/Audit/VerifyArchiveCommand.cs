using System.CommandLine;
using System.Globalization;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit verify-archive</c>: the manifest's signature, each file's hash, each file's chain and checkpoints.</summary>
internal static class VerifyArchiveCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var directory = new Argument<string>("archive") { Description = "The archive directory." };
        var command = new Command("verify-archive", "Check an archive: the manifest's signature, each file's hash, each file's chain and checkpoints.");
        command.Options.Add(data);
        command.Arguments.Add(directory);
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), null, cancellationToken, async host =>
        {
            var trusted = await AuditTrail.TrustedKeysAsync(host, cancellationToken).ConfigureAwait(false);
            var (problems, report) = await AuditArchive.VerifyAsync(parse.GetValue(directory)!, trusted, cancellationToken).ConfigureAwait(false);
            foreach (var problem in problems)
            {
                await context.Error.WriteLineAsync(problem).ConfigureAwait(false);
            }

            await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(problems.Count == 0 ? "Archive intact" : "ARCHIVE TAMPERED")}: {report.Chains.Sum(c => c.Events)} events in {report.Chains.Count} chain(s).")).ConfigureAwait(false);
            return problems.Count == 0 ? ExitCodes.Success : ExitCodes.Failed;
        }));
        return command;
    }
}
