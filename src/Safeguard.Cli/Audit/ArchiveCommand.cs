using System.CommandLine;
using System.Globalization;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit archive</c>: older events to files with a manifest signed by the audit key. Nothing is deleted.</summary>
internal static class ArchiveCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var until = new Option<string>("--until") { Description = "Archive events written before this time (ISO 8601).", Required = true };
        var outDir = new Option<string>("--out") { Description = "The archive directory (created; must be empty).", Required = true };
        var command = new Command("archive", "Write older events to files with a manifest signed by the audit key; they verify without the database. Nothing is deleted.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(until);
        command.Options.Add(outDir);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (filter, filterError) = AuditTrail.ParseFilter(null, parse.GetValue(until), null, null, null, null);
            var directory = parse.GetValue(outDir)!;
            if (filterError is null && Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            {
                filterError = $"--out '{directory}' is not empty.";
            }

            if (filterError is not null)
            {
                await context.Error.WriteLineAsync(filterError).ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                var store = await AuditTrail.OpenAsync(context, host).ConfigureAwait(false);
                if (store is null)
                {
                    return ExitCodes.BadInput;
                }

                var keys = host.Get<AuditSigningKeys>();
                await keys.LoadAsync(createIfMissing: true, cancellationToken).ConfigureAwait(false);
                var archived = await AuditArchive.CreateAsync(store, keys.Current!, filter!.Until!.Value, directory, TimeProvider.System.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                await context.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{archived} events archived to {directory} ({AuditArchive.ManifestFile} signed by the audit key).")).ConfigureAwait(false);
                return ExitCodes.Success;
            }).ConfigureAwait(false);
        });
        return command;
    }
}
