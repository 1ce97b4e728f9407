using System.CommandLine;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Cli.Keys;
using Safeguard.Keys;

namespace Safeguard.Cli.Server;

/// <summary><c>safeguard init</c>: schema, key-encryption key, first signing key and audit key.</summary>
internal static class InitCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var command = new Command("init", "Create or upgrade the schema (EF Core migrations and the append-only audit tables), the key-encryption key and the first signing key.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
        {
            await host.PrepareAsync(migrate: true, cancellationToken).ConfigureAwait(false);
            var ring = host.Get<SigningKeyRing>();
            var events = KeyEvents.Collect(ring);
            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
            await host.AuditAsync(events, cancellationToken).ConfigureAwait(false);
            await host.Get<AuditSigningKeys>().LoadAsync(createIfMissing: true, cancellationToken).ConfigureAwait(false);
            var active = ring.GetSigningKey()?.KeyId ?? "(none yet)";
            if (parse.GetValue(json))
            {
                await context.Output.WriteLineAsync($"{{\"provider\":\"{host.Provider}\",\"data\":{JsonSerializer.Serialize(host.Folder.Root)},\"signing_key\":\"{active}\"}}").ConfigureAwait(false);
            }
            else
            {
                await context.Output.WriteLineAsync($"Initialized ({host.Provider}); data folder {host.Folder.Root}; signing key {active}.").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return command;
    }
}
