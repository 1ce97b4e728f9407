using Microsoft.Extensions.Options;

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
}

/// <summary>Checks <see cref="DatabaseOptions"/>.</summary>
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

        if (options.Provider == DatabaseProvider.PostgreSql && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                "Safeguard:Database:Provider is PostgreSql but Safeguard:Database:ConnectionString is empty; set it, "
                + "for example Host=db.internal;Database=safeguard;Username=safeguard;SSL Mode=VerifyFull.");
        }

        return ValidateOptionsResult.Success;
    }
}
