using System.CommandLine;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;

namespace Safeguard.Cli.Audit;

/// <summary><c>safeguard audit verify-proof</c>: checks an inclusion proof against the data folder's trusted audit keys.</summary>
internal static class VerifyProofCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var file = new Argument<string>("proof") { Description = "The proof file made by 'safeguard audit prove'." };
        var command = new Command("verify-proof", "Check an inclusion proof against the trusted audit keys (DATA/audit-keys). Exit 0 only if it holds.");
        command.Options.Add(data);
        command.Arguments.Add(file);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                await context.Error.WriteLineAsync($"The proof file '{path}' does not exist.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), null, cancellationToken, async host =>
            {
                var trusted = await AuditTrail.TrustedKeysAsync(host, cancellationToken).ConfigureAwait(false);
                var result = AuditProofs.Verify(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), trusted);
                await (result.IsValid ? context.Output : context.Error).WriteLineAsync((result.IsValid ? "Proof holds: " : "PROOF FAILS: ") + result.Detail).ConfigureAwait(false);
                return result.IsValid ? ExitCodes.Success : ExitCodes.Failed;
            }).ConfigureAwait(false);
        });
        return command;
    }
}
