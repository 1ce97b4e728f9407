using System.CommandLine;
using Safeguard.Cli.Commands;

namespace Safeguard.Cli;

/// <summary>The root of the <c>safeguard</c> command line.</summary>
public static class SafeguardCommand
{
    /// <summary>Parses and runs a command line, writing to the given writers.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code: 0 on success, 1 for a failed operation, 2 for bad input.</returns>
    public static async Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var root = new RootCommand("Safeguard: HIPAA-grade authentication for health software.");
        root.Subcommands.Add(ServerCommands.Init(output, error));
        root.Subcommands.Add(ServerCommands.Serve());
        root.Subcommands.Add(ClientsCommand.Create(output, error));
        root.Subcommands.Add(KeysCommand.Create(output, error));
        root.Subcommands.Add(AuditCommand.Create(output, error));

        var parse = root.Parse(args);
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
