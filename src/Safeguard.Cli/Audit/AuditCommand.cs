using System.CommandLine;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit</c>: verify, export, search, prove and archive the tamper-evident audit trail.</summary>
internal static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var audit = new Command("audit", "The tamper-evident audit trail: verify, export, search, prove, archive.");
        audit.Subcommands.Add(VerifyCommand.Create(context));
        audit.Subcommands.Add(ExportCommand.Create(context));
        audit.Subcommands.Add(SearchCommand.Create(context));
        audit.Subcommands.Add(ProveCommand.Create(context));
        audit.Subcommands.Add(VerifyProofCommand.Create(context));
        audit.Subcommands.Add(ArchiveCommand.Create(context));
        audit.Subcommands.Add(VerifyArchiveCommand.Create(context));
        return audit;
    }
}
