using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.State;
using Safeguard.Storage.Audit;

namespace Safeguard.Storage.Data;

/// <summary>
/// One database, whichever provider: creates contexts, applies migrations (and the audit schema), opens the audit
/// store, and provides the cluster-wide lock that makes exactly one node rotate keys at a time.
/// </summary>
public sealed class SafeguardDatabase : IStateStore, ILeaderLock, IDisposable
{
    private readonly DbContextOptions _contextOptions;
    private readonly NpgsqlDataSource? _dataSource;
    private readonly SqlitePreparedConnections? _prepared;

    private SafeguardDatabase(DatabaseOptions options, string connectionString, string? auditPath)
    {
        Options = options;
        ConnectionString = connectionString;
        AuditPath = auditPath;
        if (options.Provider == DatabaseProvider.PostgreSql)
        {
            _dataSource = NpgsqlDataSource.Create(connectionString);
            _contextOptions = new DbContextOptionsBuilder<PostgresSafeguardDbContext>()
                .UseNpgsql(_dataSource)
                .Options;
        }
        else
        {
            _contextOptions = new DbContextOptionsBuilder<SqliteSafeguardDbContext>()
                .UseSqlite(connectionString)
                .AddInterceptors(SqlitePragmas.Instance)
                .Options;
            _prepared = new SqlitePreparedConnections(connectionString, SqlitePragmas.Apply, keep: Math.Max(4, 2 * Environment.ProcessorCount));
        }
    }

    /// <summary>The options it was opened with.</summary>
    public DatabaseOptions Options { get; }

    /// <summary>The provider.</summary>
    public DatabaseProvider Provider => Options.Provider;

    /// <summary>The effective connection string. Never log it: it may carry a password.</summary>
    public string ConnectionString { get; }

    /// <summary>SQLite only: the audit database file.</summary>
    public string? AuditPath { get; }

    /// <inheritdoc />
    public string ProviderName => Provider == DatabaseProvider.PostgreSql ? "postgresql" : "sqlite";

    /// <summary>
    /// Opens the database named by <paramref name="options"/> (already validated by <see cref="DatabaseOptionsValidator"/>);
    /// SQLite files default into the data folder (<see cref="SafeguardDataFolder.StateDatabase"/> and
    /// <see cref="SafeguardDataFolder.AuditDatabase"/>; a configured SQLite file keeps its audit database beside it).
    /// </summary>
    /// <param name="options">Provider and connection string.</param>
    /// <param name="folder">The data folder.</param>
    /// <returns>The database.</returns>
    public static SafeguardDatabase Open(DatabaseOptions options, SafeguardDataFolder folder)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(folder);
        if (options.Provider == DatabaseProvider.PostgreSql)
        {
            var connection = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            if (options.PasswordFile is { Length: > 0 } file)
            {
                connection.Password = File.ReadAllText(file).TrimEnd('\r', '\n');
            }

            return new SafeguardDatabase(options, connection.ConnectionString, null);
        }

        folder.EnsureCreated();
        SqliteLibrary.EnsureConfigured();
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString ?? string.Empty);
        var auditPath = folder.AuditDatabase;
        if (string.IsNullOrEmpty(builder.DataSource))
        {
            builder.DataSource = folder.StateDatabase;
        }
        else
        {
            auditPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(builder.DataSource)) ?? folder.Root, Path.GetFileName(folder.AuditDatabase));
        }

        builder.Pooling = true;
        builder.DefaultTimeout = 30;
        return new SafeguardDatabase(options, builder.ToString(), auditPath);
    }

    /// <summary>
    /// An open connection for the few statements on a hot path (the refresh grant) that run as plain SQL: an EF Core
    /// context costs 0.3-0.5 ms of CPU per operation here, the statement itself 0.02 ms (docs/performance.md). SQLite
    /// connections get the same pragmas as the contexts'.
    /// </summary>
    internal async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        if (_dataSource is not null)
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            SqlitePragmas.Apply(connection);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A command on <paramref name="connection"/> with named parameters (<c>@name</c>, which both providers read).</summary>
    internal static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    /// <summary>A new context (dispose it).</summary>
    /// <returns>The context.</returns>
    public SafeguardDbContext CreateContext() => Provider == DatabaseProvider.PostgreSql
        ? new PostgresSafeguardDbContext((DbContextOptions<PostgresSafeguardDbContext>)_contextOptions)
        : new SqliteSafeguardDbContext((DbContextOptions<SqliteSafeguardDbContext>)_contextOptions);

    /// <summary>
    /// Brings the schema up to date: EF Core migrations for the state tables, then the audit tables with their
    /// append-only triggers (and, on PostgreSQL, the audit writer role). Safe to run again.
    /// </summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes when the schema is current.</returns>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        using (var context = CreateContext())
        {
            await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        if (Provider == DatabaseProvider.PostgreSql)
        {
            await PostgresAuditStore.InitializeAsync(ConnectionString, Options.ApplicationRole, cancellationToken).ConfigureAwait(false);
            if (Options.ApplicationRole is { Length: > 0 } role)
            {
                // The application role reads and writes state; it cannot change the schema.
                var quoted = "\"" + role.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
                using var connection = _dataSource!.CreateConnection();
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                using var grant = new NpgsqlCommand(
                    $"GRANT SELECT, INSERT, UPDATE, DELETE ON clients, signing_keys, revoked_tokens, replay_entries, authenticators, sessions, authorization_requests, authorization_codes, refresh_tokens, enrolment_links TO {quoted}; "
                    // Users are never deleted (a subject is never reused): the application role cannot.
                    + $"GRANT SELECT, INSERT, UPDATE ON users TO {quoted}; "
                    + $"GRANT SELECT ON \"__EFMigrationsHistory\" TO {quoted};",
                    connection);
                await grant.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            // The SQLite audit store creates its schema and triggers when it opens.
            using var audit = new SqliteAuditStore(AuditPath!);
        }
    }

    /// <inheritdoc />
    public async Task PrepareAsync(bool migrate, CancellationToken cancellationToken)
    {
        if (migrate || Provider == DatabaseProvider.Sqlite)
        {
            await MigrateAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var pending = await GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false);
        if (pending.Count > 0)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL schema is not current ({pending.Count} migration(s) pending); run 'safeguard init --database ...' first.");
        }
    }

    /// <summary>Whether the schema has migrations not yet applied.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The ids of pending migrations.</returns>
    public async Task<IReadOnlyList<string>> GetPendingMigrationsAsync(CancellationToken cancellationToken)
    {
        using var context = CreateContext();
        return [.. await context.Database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)];
    }

    /// <summary>Opens the audit append store for this database.</summary>
    /// <returns>The store (dispose it).</returns>
    public IAuditStore OpenAuditStore() => Provider == DatabaseProvider.PostgreSql
        ? new PostgresAuditStore(ConnectionString)
        : new SqliteAuditStore(AuditPath!);

    /// <inheritdoc />
    public async Task EnsureLeastPrivilegeAsync(CancellationToken cancellationToken)
    {
        if (_dataSource is null)
        {
            return;
        }

        using var command = _dataSource.CreateCommand(
            "SELECT current_user, r.rolsuper, pg_has_role(current_user, c.relowner, 'MEMBER'), pg_get_userbyid(c.relowner) " +
            "FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('audit_events') WHERE r.rolname = current_user");
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.IsDBNull(2))
        {
            throw new InvalidOperationException("The PostgreSQL audit tables do not exist; run 'safeguard init --database ...' as their owner first.");
        }

        var (role, superuser, owner, ownerName) = (reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetString(3));
        if (superuser || owner)
        {
            throw new InvalidOperationException(
                $"Safeguard connects to PostgreSQL as '{role}', which {(superuser ? "is a superuser" : $"owns the audit tables (as or through role '{ownerName}')")} and so " +
                "could drop their append-only triggers and rewrite the trail. Serve as a login role with only what 'safeguard init' grants " +
                "(run init as the owner with Safeguard:Database:ApplicationRole set to that role), and keep the owner for init.");
        }
    }

    /// <inheritdoc />
    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var context = CreateContext();
            return await context.Database.CanConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Tries to take a cluster-wide exclusive lock. On PostgreSQL this is a session advisory lock held on its own
    /// connection until the returned handle is disposed; on SQLite (one node by construction) the lock is always
    /// granted. Null when another node holds it.
    /// </summary>
    /// <param name="name">The lock's name (one per purpose, for example <see cref="LeaderLocks.KeyRotation"/>).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>A handle to dispose, or null.</returns>
    public async Task<IAsyncDisposable?> TryAcquireAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var lockId = LockIdOf(name);
        if (_dataSource is null)
        {
            return NoLock.Instance;
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@id)", connection);
            command.Parameters.AddWithValue("id", lockId);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
            {
                return new AdvisoryLock(connection, lockId);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _dataSource?.Dispose();
        _prepared?.Dispose();
    }

    /// <summary>SQLite only: open connections whose commands stay prepared, for a statement run on every request; null on PostgreSQL.</summary>
    internal SqlitePreparedConnections? PreparedConnections => _prepared;

    /// <summary>
    /// The advisory lock number of a name: key rotation keeps the number it has always had ("SGKEYS"), so nodes of
    /// different versions still exclude each other; any other name takes the first 8 bytes of its SHA-256.
    /// </summary>
    private static long LockIdOf(string name) => name == LeaderLocks.KeyRotation
        ? 0x5347_4B45_5953
        : System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("safeguard-lock:" + name)));

    private sealed class NoLock : IAsyncDisposable
    {
        public static NoLock Instance { get; } = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class AdvisoryLock(NpgsqlConnection connection, long lockId) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(@id)", connection);
                command.Parameters.AddWithValue("id", lockId);
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Closing the session below releases the lock anyway.
            }

            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Every SQLite connection: WAL, full fsync on commit, and a busy timeout, set once per physical connection (a
    /// pooled connection keeps its settings; running the pragmas on every logical open cost more than the query).
    /// </summary>
    private sealed class SqlitePragmas : DbConnectionInterceptor
    {
        private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> _configured = [];

        public static SqlitePragmas Instance { get; } = new();

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Apply(connection);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Apply(connection);
            return Task.CompletedTask;
        }

        /// <summary>Sets the pragmas on a connection Safeguard opened itself.</summary>
        public static void Apply(SqliteConnection connection) => Instance.ApplyOnce(connection);

        private void Apply(DbConnection connection) => ApplyOnce(connection);

        private void ApplyOnce(DbConnection connection)
        {
            var handle = (connection as SqliteConnection)?.Handle;
            if (handle is not null && _configured.TryGetValue(handle, out _))
            {
                return;
            }

            using (var command = connection.CreateCommand())
            {
                command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;";
                command.ExecuteNonQuery();
            }

            if (handle is not null)
            {
                _configured.AddOrUpdate(handle, handle);
            }
        }
    }
}
