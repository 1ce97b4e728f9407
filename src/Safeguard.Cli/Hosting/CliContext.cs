using System.CommandLine;
using System.Data.Common;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;

namespace Safeguard.Cli.Hosting;

/// <summary>What every command shares: where it writes, the command line's <c>--Safeguard:...</c> settings, and the options most commands take.</summary>
/// <param name="Input">Standard input.</param>
/// <param name="Output">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="ConfigurationArgs">The <c>--Safeguard:...</c> arguments, for the configuration.</param>
internal sealed record CliContext(TextReader Input, TextWriter Output, TextWriter Error, IReadOnlyList<string> ConfigurationArgs)
{
    /// <summary><c>--data</c>: the data folder.</summary>
    public static Option<string?> DataOption() => new("--data")
    {
        Description = "The data folder: the key-encryption key (unless SAFEGUARD_KEK is set), audit keys and, on the embedded default, the SQLite databases. Default: Safeguard:DataPath, else ./data.",
    };

    /// <summary><c>--database</c>: a PostgreSQL connection string.</summary>
    public static Option<string?> DatabaseOption() => new("--database")
    {
        Description = "A PostgreSQL connection string (instead of SQLite in the data folder). Also Safeguard:Database in appsettings.json or Safeguard__Database__... variables.",
    };

    /// <summary>What a command says when <c>--database</c> carries a password.</summary>
    public const string PasswordWarning =
        "Warning: --database carries a password, which other users of this machine can read in the process list and shell history. "
        + "Give it through PGPASSWORD, a .pgpass file or Safeguard:Database:PasswordFile instead.";

    /// <summary>Whether a <c>--database</c> connection string holds a password.</summary>
    public static bool CarriesPassword(string? database)
    {
        if (string.IsNullOrWhiteSpace(database))
        {
            return false;
        }

        try
        {
            return !string.IsNullOrEmpty(new Npgsql.NpgsqlConnectionStringBuilder(database).Password);
        }
        catch (ArgumentException)
        {
            return false; // Not a connection string at all: the options validator says so.
        }
    }

    /// <summary><c>--json</c>.</summary>
    public static Option<bool> JsonOption() => new("--json") { Description = "Write JSON for scripts." };

    /// <summary>
    /// Composes a host for the data folder and database, runs <paramref name="action"/>, and turns the expected failures
    /// into messages and exit codes: invalid configuration is bad input (2); a key, file or database problem is a
    /// failed operation (1).
    /// </summary>
#pragma warning disable CA1068 // The action lambda reads best last, after the token.
    public async Task<int> RunAsync(string? data, string? database, CancellationToken cancellationToken, Func<CliHost, Task<int>> action)
#pragma warning restore CA1068
    {
        ArgumentNullException.ThrowIfNull(action);
        if (CarriesPassword(database))
        {
            await Error.WriteLineAsync(PasswordWarning).ConfigureAwait(false);
        }

        try
        {
            var host = CliHost.Create(ConfigurationArgs, data, database);
            await using (host.ConfigureAwait(false))
            {
                return await action(host).ConfigureAwait(false);
            }
        }
        catch (OptionsValidationException ex)
        {
            await Error.WriteLineAsync(string.Join(Environment.NewLine, ex.Failures)).ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (Exception ex) when (ex is KeyProtectionException or IOException or UnauthorizedAccessException or InvalidOperationException
            or DbException or ArgumentException or AuditUnavailableException or AuditChainInUseException or InvalidDataException or JsonException)
        {
            await Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitCodes.Failed;
        }
    }
}
