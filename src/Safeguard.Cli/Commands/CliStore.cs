using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Storage.Audit;
using Safeguard.Storage.Data;

namespace Safeguard.Cli.Commands;

/// <summary>
/// What the server-state commands (init, clients, keys) open: the data folder with its key-encryption key, and the
/// database: SQLite in the data folder by default, or PostgreSQL from <c>--database</c> or
/// <c>Safeguard__Database__Provider</c>/<c>Safeguard__Database__ConnectionString</c>.
/// </summary>
internal sealed class CliStore : IDisposable
{
    private CliStore(DataFolder folder, SafeguardDatabase database)
    {
        Folder = folder;
        Database = database;
    }

    public DataFolder Folder { get; }

    public SafeguardDatabase Database { get; }

    public static Option<string> DataOption() => new("--data")
    {
        Description = "The data folder: the key-encryption key (unless SAFEGUARD_KEK is set), audit keys and, on the embedded default, the SQLite databases.",
        DefaultValueFactory = _ => "./data",
    };

    public static Option<string?> DatabaseOption() => new("--database")
    {
        Description = "A PostgreSQL connection string (instead of SQLite in the data folder). Also Safeguard__Database__ConnectionString.",
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Write JSON for scripts." };

    /// <summary>The database options the command line and environment name.</summary>
    public static DatabaseOptions DatabaseOptionsFrom(string? database)
    {
        if (database is { Length: > 0 })
        {
            return new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = database };
        }

        var provider = Environment.GetEnvironmentVariable("Safeguard__Database__Provider");
        var connection = Environment.GetEnvironmentVariable("Safeguard__Database__ConnectionString");
        var options = new DatabaseOptions { ConnectionString = connection is { Length: > 0 } ? connection : null };
        if (provider is { Length: > 0 })
        {
            options.Provider = Enum.TryParse<DatabaseProvider>(provider, ignoreCase: true, out var parsed)
                ? parsed
                : throw new OptionsValidationException(nameof(DatabaseOptions), typeof(DatabaseOptions), [$"Safeguard__Database__Provider is '{provider}'; set Sqlite or PostgreSql."]);
        }

        return options;
    }

    /// <summary>
    /// Opens folder and database. The embedded default is migrated on the spot; a PostgreSQL schema must be current
    /// (unless <paramref name="migrate"/>), so a command never runs against a half-made schema.
    /// </summary>
    public static async Task<CliStore> OpenAsync(string data, string? database, bool migrate, CancellationToken cancellationToken)
    {
        var options = DatabaseOptionsFrom(database);
        var folder = DataFolder.Open(data);
        SafeguardDatabase? db = null;
        try
        {
            db = SafeguardDatabase.Open(options, folder.Path);
            if (migrate || db.Provider == DatabaseProvider.Sqlite)
            {
                await db.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }
            else if ((await db.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)).Count > 0)
            {
                throw new InvalidOperationException("The PostgreSQL schema is not current; run 'safeguard init --database ...' first.");
            }

            return new CliStore(folder, db);
        }
        catch
        {
            db?.Dispose();
            folder.Dispose();
            throw;
        }
    }

    /// <summary>A key ring over the database's signing keys.</summary>
    public SigningKeyRing KeyRing() =>
        new(new EfSigningKeyStore(Database), Folder.Protector, Options.Create(new KeyRingOptions()), TimeProvider.System, NullLogger<SigningKeyRing>.Instance);

    /// <summary>
    /// Records an administrative change in the audit trail, on the command line's own chain (<c>MACHINE.cli</c>), so
    /// it never contends with a running server's chain; the writer checkpoints and stops before this returns.
    /// </summary>
    public async Task AuditAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        using var store = Database.OpenAuditStore() as IDisposable;
        var auditStore = (IAuditStore)store!;
        using var sink = new DirectoryCheckpointSink(Folder.CheckpointsPath);
        var options = new AuditOptions { ChainId = new AuditOptions().ResolveChainId() + ".cli" };
        var writer = new AuditWriter(auditStore, Folder.AuditKeys(), sink, Options.Create(options), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        await using (writer.ConfigureAwait(false))
        {
            await writer.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (var auditEvent in events)
            {
                await writer.AppendAsync(auditEvent with { NodeId = writer.Chain }, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public void Dispose()
    {
        Database.Dispose();
        Folder.Dispose();
    }
}
