using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Clients;

namespace Safeguard.Cli.Clients;

/// <summary><c>safeguard clients</c>: register and manage OAuth clients. A secret is printed once and stored only as a hash.</summary>
internal static class ClientsCommand
{
    public static Command Create(CliContext context)
    {
        var clients = new Command("clients", "OAuth clients: add, list, show, disable, rotate-secret.");
        clients.Subcommands.Add(ClientsAddCommand.Create(context));
        clients.Subcommands.Add(List(context));
        clients.Subcommands.Add(Show(context));
        clients.Subcommands.Add(Disable(context));
        clients.Subcommands.Add(RotateSecret(context));
        return clients;
    }

    private static Command List(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var command = new Command("list", "List the registered clients (never their secrets).");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
        {
            await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
            var clients = await host.Get<IClientStore>().GetAllAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await context.Output.WriteLineAsync(JsonSerializer.Serialize(clients.Select(c => ClientView.From(c, null)).ToList(), ClientJsonContext.Default.ListClientView)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"{"CLIENT",-32} {"AUTH",-20} {"ENABLED",-8} {"DPOP",-5} SCOPES");
            foreach (var c in clients)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{c.ClientId,-32} {c.AuthenticationMethod,-20} {(c.Enabled ? "yes" : "no"),-8} {(c.RequireDpop ? "yes" : "no"),-5} {string.Join(' ', c.AllowedScopes)}");
            }

            await context.Output.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Show(CliContext context) =>
        OneClient(context, "show", "Show one client (never its secret).", async (_, client, json, _) =>
        {
            await ClientOutput.WriteAsync(context.Output, client, null, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Disable(CliContext context) =>
        OneClient(context, "disable", "Disable a client: it can no longer authenticate (running servers notice within seconds). Its id stays reserved.", async (host, client, json, cancellationToken) =>
        {
            var disabled = client with { Enabled = false, UpdatedAt = TimeProvider.System.GetUtcNow() };
            var change = ClientOutput.Changed(disabled, AuditAction.Update, "client disabled", [new AuditChange("enabled", "true", "false")]);
            if (!await host.ChangeAsync(change, () => host.Get<IClientStore>().DisableAsync(client.ClientId, disabled.UpdatedAt, cancellationToken), cancellationToken).ConfigureAwait(false))
            {
                await context.Error.WriteLineAsync($"Client '{client.ClientId}' no longer exists; nothing was changed.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            await ClientOutput.WriteAsync(context.Output, disabled, null, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command RotateSecret(CliContext context) =>
        OneClient(context, "rotate-secret", "Replace a client_secret_basic client's secret; the new one is printed once and the old one stops working.", async (host, client, json, cancellationToken) =>
        {
            if (client.AuthenticationMethod != ClientAuthenticationMethods.ClientSecretBasic)
            {
                await context.Error.WriteLineAsync($"Client '{client.ClientId}' authenticates with {client.AuthenticationMethod}; it has no secret to rotate.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            var secret = ClientSecrets.Generate();
            var rotated = client with { SecretHash = ClientSecrets.Hash(secret), UpdatedAt = TimeProvider.System.GetUtcNow() };
            var change = ClientOutput.Changed(rotated, AuditAction.Update, "client secret rotated", [new AuditChange("secret", "(previous)", "(new)")]);
            if (!await host.ChangeAsync(change, () => host.Get<IClientStore>().SetSecretHashAsync(client.ClientId, rotated.SecretHash!, client.UpdatedAt, rotated.UpdatedAt, cancellationToken), cancellationToken).ConfigureAwait(false))
            {
                await context.Error.WriteLineAsync($"Client '{client.ClientId}' changed meanwhile; nothing was rotated.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            await ClientOutput.WriteAsync(context.Output, rotated, secret, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    /// <summary>A command on one registered client, named by its id.</summary>
    private static Command OneClient(CliContext context, string name, string description, Func<CliHost, Client, bool, CancellationToken, Task<int>> action)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var id = new Argument<string>("client_id") { Description = "The client id." };
        var command = new Command(name, description);
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.Arguments.Add(id);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var clientId = parse.GetValue(id)!;
            if (!ClientIds.IsWellFormed(clientId))
            {
                await context.Error.WriteLineAsync($"'{clientId}' is not a client id.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
                var client = await host.Get<IClientStore>().FindAsync(clientId, cancellationToken).ConfigureAwait(false);
                if (client is null)
                {
                    await context.Error.WriteLineAsync($"No client '{clientId}' is registered.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                return await action(host, client, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        });
        return command;
    }
}
