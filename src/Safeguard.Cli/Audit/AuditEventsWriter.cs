using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary>What export and search share: check the input, then write the matching events in the chosen format.</summary>
internal static class AuditEventsWriter
{
    public static async Task<int> WriteAsync(
        CliContext context, CliHost host, string formatName, AuditFilter? filter, string? filterError, string? outFile,
        Func<long, string> summary, CancellationToken cancellationToken)
    {
        AuditExportFormat? format = formatName switch { "jsonl" => AuditExportFormat.Jsonl, "fhir" => AuditExportFormat.Fhir, "cef" => AuditExportFormat.Cef, _ => null };
        filterError ??= format is null ? $"--format '{formatName}' is not one of jsonl, fhir, cef." : null;
        if (filterError is not null)
        {
            await context.Error.WriteLineAsync(filterError).ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        var store = await AuditTrail.OpenAsync(context, host).ConfigureAwait(false);
        if (store is null)
        {
            return ExitCodes.BadInput;
        }

        long written;
        if (outFile is not null)
        {
            var file = new StreamWriter(outFile, append: false, new System.Text.UTF8Encoding(false));
            await using (file.ConfigureAwait(false))
            {
                written = await AuditExport.ExportAsync(store, file, format!.Value, filter, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            written = await AuditExport.ExportAsync(store, context.Output, format!.Value, filter, cancellationToken).ConfigureAwait(false);
        }

        await context.Error.WriteLineAsync(summary(written)).ConfigureAwait(false);
        return ExitCodes.Success;
    }
}
