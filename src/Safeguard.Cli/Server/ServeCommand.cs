using System.CommandLine;
using Safeguard.Cli.Hosting;
using Safeguard.Hosting;

namespace Safeguard.Cli.Server;

/// <summary><c>safeguard serve</c>: the authorization server, with the same configuration as <c>dotnet run --project src/Safeguard.Server</c>.</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var listen = new Option<string?>("--listen") { Description = "The https endpoint, for example https://0.0.0.0:8443. Default https://127.0.0.1:5443." };
        var command = new Command("serve", "Run the authorization server (TLS only). Other settings come from appsettings.json, Safeguard__... variables and --Safeguard:... arguments.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(listen);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var section = "--" + SafeguardConfiguration.Section + ":";
            var args = new List<string>(context.ConfigurationArgs);
            if (parse.GetValue(data) is { Length: > 0 } folder)
            {
                args.Add($"{section}DataPath={folder}");
            }

            if (CliContext.CarriesPassword(parse.GetValue(database)))
            {
                // A server runs for months: its command line stays visible to every local user all that time.
                await context.Error.WriteLineAsync(CliContext.PasswordWarning + " serve refuses it.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            if (parse.GetValue(database) is { Length: > 0 } connection)
            {
                args.Add($"{section}Database:Provider=PostgreSql");
                args.Add($"{section}Database:ConnectionString={connection}");
            }

            if (parse.GetValue(listen) is { Length: > 0 } endpoint)
            {
                args.Add($"{section}Listen={endpoint}");
            }

            return await Safeguard.Server.SafeguardServer.RunAsync([.. args], cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
