using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Safeguard.Cli.Hosting;
using Safeguard.Gateway;

namespace Safeguard.Cli.Server;

/// <summary><c>safeguard gateway --config gateway.json</c>: the gateway, as <c>dotnet run --project src/Safeguard.Gateway -- --config gateway.json</c> runs it.</summary>
internal static class GatewayCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<FileInfo>("--config") { Description = "The gateway's configuration (its Gateway section: listen, authority, audience, routes, clusters).", Required = true };
        var command = new Command("gateway", "Run the Safeguard gateway: verify tokens, enforce each route, audit every request, and forward to the configured upstreams (TLS only).");
        command.Options.Add(config);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(config)!;
            if (!file.Exists)
            {
                await context.Error.WriteLineAsync($"No configuration at {file.FullName}.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            var configuration = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false, reloadOnChange: false).AddEnvironmentVariables("SAFEGUARD_").Build();
            return await GatewayCommandLine.RunAsync(configuration, context.Output, context.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
