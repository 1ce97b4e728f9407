using System.CommandLine;
using Safeguard.Storage.Data;

namespace Safeguard.Cli.Commands;

/// <summary><c>safeguard init</c> and <c>safeguard serve</c>.</summary>
internal static class ServerCommands
{
    public static Command Init(TextWriter output, TextWriter error)
    {
        var data = CliStore.DataOption();
        var database = CliStore.DatabaseOption();
        var json = CliStore.JsonOption();
        var command = new Command("init", "Create or upgrade the schema (EF Core migrations and the append-only audit tables), the key-encryption key and the first signing key.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            CliStore cli;
            try
            {
                cli = await CliStore.OpenAsync(parse.GetValue(data)!, parse.GetValue(database), migrate: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException ex)
            {
                await error.WriteLineAsync(string.Join(Environment.NewLine, ex.Failures)).ConfigureAwait(false);
                return ExitCodes.BadInput;
            }
            catch (Exception ex) when (ex is Keys.KeyProtectionException or IOException or UnauthorizedAccessException or InvalidOperationException
                or System.Data.Common.DbException or ArgumentException)
            {
                await error.WriteLineAsync("init failed: " + ex.Message).ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            cli.Dispose();
            return await ClientsCommand.WithStoreAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async store =>
            {
                var events = new List<Audit.AuditEvent>();
                using var ring = store.KeyRing();
                ring.LifecycleChanged += (_, change) => KeysCommand.AddKeyEvent(events, change);
                await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
                await store.AuditAsync(events, cancellationToken).ConfigureAwait(false);
                await store.Folder.AuditKeys().LoadAsync(createIfMissing: true, cancellationToken).ConfigureAwait(false);
                var provider = store.Database.Provider == DatabaseProvider.Sqlite ? "sqlite" : "postgresql";
                var active = ring.GetSigningKey()?.KeyId ?? "(none yet)";
                if (parse.GetValue(json))
                {
                    await output.WriteLineAsync($"{{\"provider\":\"{provider}\",\"data\":{System.Text.Json.JsonSerializer.Serialize(store.Folder.Path)},\"signing_key\":\"{active}\"}}").ConfigureAwait(false);
                }
                else
                {
                    await output.WriteLineAsync($"Initialized ({provider}); data folder {store.Folder.Path}; signing key {active}.").ConfigureAwait(false);
                }

                return ExitCodes.Success;
            }).ConfigureAwait(false);
        });
        return command;
    }

    public static Command Serve()
    {
        var data = CliStore.DataOption();
        var database = CliStore.DatabaseOption();
        var listen = new Option<string?>("--listen") { Description = "The https endpoint, for example https://0.0.0.0:8443. Default https://127.0.0.1:5443." };
        var command = new Command("serve", "Run the authorization server (TLS only). Other settings come from appsettings.json and Safeguard__... environment variables.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(listen);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = new List<string> { $"--Safeguard:DataPath={parse.GetValue(data)}" };
            if (parse.GetValue(database) is { Length: > 0 } connection)
            {
                args.Add("--Safeguard:Database:Provider=PostgreSql");
                args.Add($"--Safeguard:Database:ConnectionString={connection}");
            }

            if (parse.GetValue(listen) is { Length: > 0 } endpoint)
            {
                args.Add($"--Safeguard:Listen={endpoint}");
            }

            return await Server.SafeguardServer.RunAsync([.. args], cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
