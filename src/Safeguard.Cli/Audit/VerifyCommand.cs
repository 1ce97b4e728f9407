using System.CommandLine;
using System.Diagnostics;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit verify</c>: every link, every checkpoint signature, and the checkpoints exported outside the database; or a JSON Lines export on its own.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var checkpoints = new Option<string?>("--checkpoints") { Description = "The directory checkpoints were exported to (default: DATA/audit-checkpoints)." };
        var json = new Option<bool>("--json") { Description = "Write the report as JSON." };
        var jsonl = new Option<string?>("--jsonl") { Description = "Verify a JSON Lines export file instead of the database (the audit keys still come from DATA)." };
        var command = new Command("verify", "Check every link of every chain, every checkpoint signature, and the exported checkpoints. Exit 0 only if intact.");
        foreach (var option in new Option[] { data, database, checkpoints, json, jsonl })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
        {
            var asJson = parse.GetValue(json);
            if (parse.GetValue(jsonl) is { } exportFile)
            {
                return await VerifyExportAsync(context, host, exportFile, asJson, cancellationToken).ConfigureAwait(false);
            }

            var store = await AuditTrail.OpenAsync(context, host).ConfigureAwait(false);
            if (store is null)
            {
                return ExitCodes.BadInput;
            }

            var trusted = await AuditTrail.TrustedKeysAsync(host, cancellationToken).ConfigureAwait(false);
            if (trusted.Count == 0)
            {
                await context.Error.WriteLineAsync($"No audit key in '{host.Folder.AuditKeys}': checkpoints cannot be verified.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var exported = DirectoryCheckpointSink.ReadAll(parse.GetValue(checkpoints) ?? host.Get<Safeguard.Hosting.CheckpointDestinations>().Directory);
            var verifier = new AuditVerifier(store, trusted, exported);
            TerminalProgress? progress = null;
            if (!asJson && ReferenceEquals(context.Error, Console.Error) && !Console.IsErrorRedirected)
            {
                long total = 0;
                foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
                {
                    total += await store.CountAsync(chain, cancellationToken).ConfigureAwait(false);
                }

                progress = new TerminalProgress(context.Error, total);
            }

            var watch = Stopwatch.StartNew();
            var report = await verifier.VerifyAsync(progress, cancellationToken).ConfigureAwait(false);
            watch.Stop();
            progress?.Done();

            await AuditTrail.WriteReportAsync(context.Output, report, asJson, watch.Elapsed).ConfigureAwait(false);
            return report.IsIntact ? ExitCodes.Success : ExitCodes.Failed;
        }));
        return command;
    }

    private static async Task<int> VerifyExportAsync(CliContext context, CliHost host, string exportFile, bool json, CancellationToken cancellationToken)
    {
        if (!File.Exists(exportFile))
        {
            await context.Error.WriteLineAsync($"The export file '{exportFile}' does not exist.").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        var trusted = await AuditTrail.TrustedKeysAsync(host, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(exportFile);
        var watch = Stopwatch.StartNew();
        var report = await AuditJsonlVerifier.VerifyAsync(reader, trusted, cancellationToken).ConfigureAwait(false);
        await AuditTrail.WriteReportAsync(context.Output, report, json, watch.Elapsed).ConfigureAwait(false);
        return report.IsIntact ? ExitCodes.Success : ExitCodes.Failed;
    }
}
