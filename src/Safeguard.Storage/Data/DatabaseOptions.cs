using System.Net;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Safeguard.Storage.Data;

/// <summary>Which database holds the server's state.</summary>
public enum DatabaseProvider
{
    /// <summary>The embedded default: SQLite files in the data folder.</summary>
    Sqlite,

    /// <summary>PostgreSQL, for more than one node or more than one machine's worth of load.</summary>
    PostgreSql,
}

/// <summary>The <c>Safeguard:Database</c> section.</summary>
public sealed record DatabaseOptions
{
    /// <summary>The provider. Default <see cref="DatabaseProvider.Sqlite"/>.</summary>
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// The connection string. For SQLite, optional: the default is <c>safeguard.db</c> in the data folder (and the
    /// audit trail goes to <c>audit.db</c> beside it). For PostgreSQL, required.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// PostgreSQL only: the role the application connects as, made a member of the audit writer role (INSERT and
    /// SELECT on the audit tables, nothing else) when the schema is created. Null when the application connects as
    /// the schema owner (development).
    /// </summary>
    public string? ApplicationRole { get; set; }

    /// <summary>
    /// PostgreSQL only: a file holding the password (0600, nothing else in it), so the password is in neither the
    /// configuration nor the command line. Npgsql also reads <c>PGPASSWORD</c> and a <c>.pgpass</c> file. Default none.
    /// </summary>
    public string? PasswordFile { get; set; }
}

/// <summary>
/// Checks <see cref="DatabaseOptions"/>, reporting every error: a known provider; for PostgreSQL a connection string that
/// parses, and TLS that proves the server (SSL Mode VerifyFull or VerifyCA) unless every host is this machine (a loopback
/// address or a Unix socket); a password file that exists and only its owner can read.
/// </summary>
public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Enum.IsDefined(options.Provider))
        {
            return ValidateOptionsResult.Fail($"Safeguard:Database:Provider is '{options.Provider}'; set Sqlite or PostgreSql.");
        }

        if (options.Provider != DatabaseProvider.PostgreSql)
        {
            return ValidateOptionsResult.Success;
        }

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                "Safeguard:Database:Provider is PostgreSql but Safeguard:Database:ConnectionString is empty; set it, "
                + "for example Host=db.internal;Database=safeguard;Username=safeguard;SSL Mode=VerifyFull.");
        }

        var errors = new List<string>();
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"Safeguard:Database:ConnectionString is not a PostgreSQL connection string ({ex.Message}).");
        }

        if (builder.SslMode is not (SslMode.VerifyFull or SslMode.VerifyCA) && !IsThisMachine(builder.Host))
        {
            // 164.312(e): the state and the audit trail cross the network only encrypted, to a server that proved who it is.
            errors.Add($"Safeguard:Database:ConnectionString connects to '{builder.Host}' with SSL Mode={builder.SslMode}; set SSL Mode=VerifyFull "
                + "(or VerifyCA) with the server's CA (Root Certificate=...), so the connection is encrypted and the server proven. Only a loopback "
                + "host or a Unix socket may go without.");
        }

        if (options.PasswordFile is { Length: > 0 } file)
        {
            if (!File.Exists(file))
            {
                errors.Add($"Safeguard:Database:PasswordFile is '{file}', which does not exist.");
            }
            else if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                errors.Add($"Safeguard:Database:PasswordFile '{file}' can be read or written by group or others; run 'chmod 600 {file}'.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Whether every host of a connection string is this machine: a loopback name or address, or a Unix socket directory.</summary>
    internal static bool IsThisMachine(string? hosts) =>
        !string.IsNullOrWhiteSpace(hosts) && hosts.Split(',').All(entry =>
        {
            var host = entry.Trim();
            var port = host.LastIndexOf(':');
            if (port > 0 && !host.StartsWith('[') && host.Count(c => c == ':') == 1)
            {
                host = host[..port];
            }

            host = host.Trim('[', ']');
            return host.StartsWith('/') || string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
                || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
        });
}
