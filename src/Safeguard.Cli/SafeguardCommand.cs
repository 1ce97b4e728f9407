using System.CommandLine;
using Safeguard.Cli.Audit;
using Safeguard.Cli.Clients;
using Safeguard.Cli.Hosting;
using Safeguard.Cli.Keys;
using Safeguard.Cli.Server;
using Safeguard.Cli.Users;
using Safeguard.Hosting;

namespace Safeguard.Cli;

/// <summary>The root of the <c>safeguard</c> command line.</summary>
public static class SafeguardCommand
{
    /// <summary>Parses and runs a command line, writing to the given writers.</summary>
    /// <param name="args">
    /// The arguments. <c>--Safeguard:Key=Value</c> (or <c>--Safeguard:Key Value</c>) anywhere sets a configuration
    /// value, as it does for the server; the rest is the command.
    /// </param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code: 0 on success, 1 for a failed operation, 2 for bad input.</returns>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        InvokeAsync(args, TextReader.Null, output, error, cancellationToken);

    /// <summary>Parses and runs a command line, reading standard input from <paramref name="input"/> (<c>--password-stdin</c>).</summary>
    /// <param name="args">The arguments (see the other overload).</param>
    /// <param name="input">Standard input.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code: 0 on success, 1 for a failed operation, 2 for bad input.</returns>
    public static async Task<int> InvokeAsync(string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var (commandArgs, configurationArgs) = SplitConfiguration(args);
        var context = new CliContext(input, output, error, configurationArgs);
        var root = new RootCommand("Safeguard: HIPAA-grade authentication for health software.");
        root.Subcommands.Add(InitCommand.Create(context));
        root.Subcommands.Add(ServeCommand.Create(context));
        root.Subcommands.Add(GatewayCommand.Create(context));
        root.Subcommands.Add(ClientsCommand.Create(context));
        root.Subcommands.Add(UsersCommand.Create(context));
        root.Subcommands.Add(KeysCommand.Create(context));
        root.Subcommands.Add(AuditCommand.Create(context));

        var parse = root.Parse(commandArgs);
        if (parse.Errors.Count > 0)
        {
            foreach (var parseError in parse.Errors)
            {
                await error.WriteLineAsync(parseError.Message).ConfigureAwait(false);
            }

            return ExitCodes.BadInput;
        }

        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or System.Net.Sockets.SocketException)
        {
            // A database that cannot be reached is an operational failure with a message, not a stack trace.
            await error.WriteLineAsync("The database could not be used: " + ex.Message).ConfigureAwait(false);
            return ExitCodes.Failed;
        }
    }

    /// <summary>Separates <c>--Safeguard:...</c> configuration arguments from the command's own.</summary>
    internal static (string[] Command, string[] Configuration) SplitConfiguration(IReadOnlyList<string> args)
    {
        var prefix = "--" + SafeguardConfiguration.Section + ":";
        var command = new List<string>(args.Count);
        var configuration = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                command.Add(args[i]);
                continue;
            }

            configuration.Add(args[i]);
            if (!args[i].Contains('=', StringComparison.Ordinal) && i + 1 < args.Count)
            {
                configuration.Add(args[++i]);
            }
        }

        return ([.. command], [.. configuration]);
    }
}

/// <summary>Exit codes shared by every command.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>The operation was carried out and failed (for example a key that does not exist).</summary>
    public const int Failed = 1;

    /// <summary>The command line or its input was invalid.</summary>
    public const int BadInput = 2;
}
