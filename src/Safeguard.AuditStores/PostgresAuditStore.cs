using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Safeguard.Audit;

namespace Safeguard.Storage.Audit;

/// <summary>
/// The audit trail on PostgreSQL, for deployments that outgrow one machine: each node appends to its own chain
/// in the shared database. Durability is PostgreSQL's commit (<c>synchronous_commit</c> on); a batch is one
/// transaction, its rows sent with binary COPY. The tables refuse UPDATE, DELETE and TRUNCATE by trigger, and
/// the role Safeguard runs as (a member of <see cref="WriterRole"/>) holds only INSERT and SELECT on them.
/// </summary>
public sealed class PostgresAuditStore : IAuditStore, IDisposable
{
    /// <summary>The role granted INSERT and SELECT on the audit tables, and nothing else.</summary>
    public const string WriterRole = "safeguard_audit_writer";

    private const string Schema = $"""
        CREATE TABLE IF NOT EXISTS audit_events (
            chain text   NOT NULL,
            seq   bigint NOT NULL,
            time  bigint NOT NULL,
            body  bytea  NOT NULL,
            hash  bytea  NOT NULL,
            PRIMARY KEY (chain, seq));
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            chain text   NOT NULL,
            seq   bigint NOT NULL,
            head  bytea  NOT NULL,
            time  bigint NOT NULL,
            jws   text   NOT NULL,
            PRIMARY KEY (chain, seq));
        CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$;
        DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints;
        CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        DROP TRIGGER IF EXISTS audit_checkpoints_no_truncate ON audit_checkpoints;
        CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{WriterRole}') THEN
                CREATE ROLE {WriterRole} NOLOGIN;
            END IF;
        END $$;
        REVOKE ALL ON audit_events, audit_checkpoints FROM {WriterRole};
        GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO {WriterRole};
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly ConcurrentDictionary<string, ChainLease> _leases = new(StringComparer.Ordinal);

    /// <summary>Opens the store over a connection string (the role should be a member of <see cref="WriterRole"/>, not the tables' owner).</summary>
    /// <param name="connectionString">The Npgsql connection string.</param>
    public PostgresAuditStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>
    /// Creates the tables, the append-only triggers and <see cref="WriterRole"/> (run once, as the tables'
    /// owner, by <c>safeguard init</c>), then grants the role to <paramref name="applicationRole"/> if given.
    /// </summary>
    /// <param name="ownerConnectionString">A connection as the schema owner.</param>
    /// <param name="applicationRole">The login role Safeguard runs as; null to grant nothing.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes when the schema exists.</returns>
    public static async Task InitializeAsync(string ownerConnectionString, string? applicationRole, CancellationToken cancellationToken)
    {
        using var connection = new NpgsqlConnection(ownerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        using (var command = new NpgsqlCommand(Schema, connection))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (applicationRole is not null)
        {
            var quoted = new NpgsqlCommandBuilder().QuoteIdentifier(applicationRole);
            using var grant = new NpgsqlCommand($"GRANT {WriterRole} TO {quoted}", connection);
            await grant.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<AuditChainHead?> GetHeadAsync(string chain, CancellationToken cancellationToken)
    {
        using var command = _dataSource.CreateCommand("SELECT seq, hash FROM audit_events WHERE chain = $1 ORDER BY seq DESC LIMIT 1");
        command.Parameters.AddWithValue(chain);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new AuditChainHead(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1))
            : null;
    }

    /// <inheritdoc />
    public async Task<IAsyncDisposable> AcquireChainAsync(string chain, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(chain);
        var lease = new ChainLease(this, chain);
        if (!_leases.TryAdd(chain, lease))
        {
            throw AuditChainInUseException.For(chain);
        }

        try
        {
            await lease.TakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _leases.TryRemove(new KeyValuePair<string, ChainLease>(chain, lease));
            throw;
        }

        return lease;
    }

    /// <summary>
    /// Appends in one transaction with <c>synchronous_commit</c> on, whatever the role or database default says. A
    /// chain leased by this store is written on the lease's own connection, so a write is only ever made while the
    /// lock is held: if that session was lost (a restart, a cut connection), the lock went with it and is taken again
    /// before the next write, or the write fails with <see cref="AuditChainInUseException"/>.
    /// </summary>
    /// <inheritdoc />
    public async Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(checkpoints);
        var chain = records.Count > 0 ? records[0].Chain : checkpoints.Count > 0 ? checkpoints[0].Chain : null;
        if (chain is null)
        {
            return;
        }

        if (_leases.TryGetValue(chain, out var lease))
        {
            await lease.AppendAsync(records, checkpoints, cancellationToken).ConfigureAwait(false);
            return;
        }

        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await WriteAsync(connection, records, checkpoints, setDurable: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, bool setDurable, CancellationToken cancellationToken)
    {
        using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (setDurable)
        {
            using var durable = new NpgsqlCommand("SET LOCAL synchronous_commit = on", connection, transaction);
            await durable.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var importer = await connection.BeginBinaryImportAsync("COPY audit_events (chain, seq, time, body, hash) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (var record in records)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(record.Chain, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(record.Sequence, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync((record.Time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(record.Body, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(record.Hash, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var c in checkpoints)
        {
            using var insert = new NpgsqlCommand("INSERT INTO audit_checkpoints (chain, seq, head, time, jws) VALUES ($1, $2, $3, $4, $5)", connection, transaction);
            insert.Parameters.AddWithValue(c.Chain);
            insert.Parameters.AddWithValue(c.Sequence);
            insert.Parameters.AddWithValue(c.HeadHash);
            insert.Parameters.AddWithValue((c.Time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10);
            insert.Parameters.AddWithValue(c.Jws);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken)
    {
        using var command = _dataSource.CreateCommand(AuditSql.Chains);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var chains = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            chains.Add(reader.GetString(0));
        }

        return chains;
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(string chain, CancellationToken cancellationToken)
    {
        using var command = _dataSource.CreateCommand("SELECT coalesce(max(seq), 0) FROM audit_events WHERE chain = $1");
        command.Parameters.AddWithValue(chain);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public async Task ScanChainAsync(string chain, AuditRowVisitor visitor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        using var command = _dataSource.CreateCommand("SELECT seq, body, hash FROM audit_events WHERE chain = $1 ORDER BY seq");
        command.Parameters.AddWithValue(chain);
        using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var sequence = reader.GetInt64(0);
            var body = reader.IsDBNull(1) ? [] : reader.GetFieldValue<byte[]>(1);
            var hash = reader.IsDBNull(2) ? [] : reader.GetFieldValue<byte[]>(2);
            visitor(sequence, body, hash);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<AuditRecord> ReadChainAsync(string chain, long fromSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var command = _dataSource.CreateCommand("SELECT seq, time, body, hash FROM audit_events WHERE chain = $1 AND seq >= $2 ORDER BY seq");
        command.Parameters.AddWithValue(chain);
        command.Parameters.AddWithValue(fromSequence);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new AuditRecord
            {
                Chain = chain,
                Sequence = reader.GetInt64(0),
                Time = DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(1) * 10),
                Body = reader.IsDBNull(2) ? [] : reader.GetFieldValue<byte[]>(2),
                Hash = reader.IsDBNull(3) ? [] : reader.GetFieldValue<byte[]>(3),
            };
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<AuditCheckpoint>> GetCheckpointsAsync(string chain, CancellationToken cancellationToken)
    {
        using var command = _dataSource.CreateCommand("SELECT seq, head, time, jws FROM audit_checkpoints WHERE chain = $1 ORDER BY seq");
        command.Parameters.AddWithValue(chain);
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var checkpoints = new List<AuditCheckpoint>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            checkpoints.Add(new AuditCheckpoint
            {
                Chain = chain,
                Sequence = reader.GetInt64(0),
                HeadHash = reader.GetFieldValue<byte[]>(1),
                Time = DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64(2) * 10),
                Jws = reader.GetString(3),
            });
        }

        return checkpoints;
    }

    /// <summary>Closes the store's connections, the leases' too (which frees their chains).</summary>
    public void Dispose()
    {
        foreach (var lease in _leases.Values)
        {
            lease.Close();
        }

        _dataSource.Dispose();
    }

    /// <summary>
    /// A chain's lease: a session advisory lock on a connection of its own, numbered by the first 8 bytes of the
    /// SHA-256 of the chain's name. The chain's appends run on that connection, one at a time.
    /// </summary>
    private sealed class ChainLease(PostgresAuditStore store, string chain) : IAsyncDisposable
    {
        private readonly long _lockId = BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("safeguard-audit-chain:" + chain)));
        private readonly SemaphoreSlim _gate = new(1, 1);
        private NpgsqlConnection? _connection;
        private bool _released;

        public async Task TakeAsync(CancellationToken cancellationToken)
        {
            var connection = await store._dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
                command.Parameters.AddWithValue(_lockId);
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
                {
                    throw AuditChainInUseException.For(chain);
                }

                // Set once for the session that carries every append (the per-transaction SET would cost a round trip a batch).
                using var durable = new NpgsqlCommand("SET synchronous_commit = on", connection);
                await durable.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            _connection = connection;
        }

        public async Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                ObjectDisposedException.ThrowIf(_released, this);
                if (_connection is not { FullState: System.Data.ConnectionState.Open })
                {
                    // The session that held the lock is gone, and the lock with it: take it again before writing.
                    Close();
                    await TakeAsync(cancellationToken).ConfigureAwait(false);
                }

                try
                {
                    await WriteAsync(_connection!, records, checkpoints, setDurable: false, cancellationToken).ConfigureAwait(false);
                }
                catch when (_connection is not { FullState: System.Data.ConnectionState.Open })
                {
                    Close();
                    throw;
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        public void Close()
        {
            _connection?.Dispose();
            _connection = null;
        }

        public async ValueTask DisposeAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_released)
                {
                    return;
                }

                _released = true;
                store._leases.TryRemove(new KeyValuePair<string, ChainLease>(chain, this));
                if (_connection is { FullState: System.Data.ConnectionState.Open } connection)
                {
                    try
                    {
                        using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
                        command.Parameters.AddWithValue(_lockId);
                        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                    }
                    catch (NpgsqlException)
                    {
                        // Closing the session below frees the lock anyway.
                    }
                }

                Close();
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
