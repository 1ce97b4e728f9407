using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Safeguard.Audit;
using SQLitePCL;

namespace Safeguard.Storage.Audit;

/// <summary>
/// The audit trail in SQLite (the embedded default). Durability: WAL with <c>synchronous=FULL</c>, so a returned
/// commit survives power loss; one transaction per batch (group commit). The table is one B-tree keyed by
/// (chain, seq) holding the canonical bytes, the hash and the time; there are no secondary indexes or copied
/// columns to slow the append path (search scans and reads the canonical bytes, which suits an auditor's
/// occasional query). The writer checkpoints the WAL itself, right after a commit once the WAL holds a few
/// megabytes. All of a node's commits come from this connection, so the checkpoint catches up completely (unless
/// another connection holds an older snapshot or is writing at that moment) and the next commit starts the WAL
/// again from its beginning, overwriting blocks already allocated. A checkpoint on another connection never catches
/// up under sustained load: the WAL then grows without bound, and every commit pays for allocating new blocks. The
/// audit tables refuse UPDATE and DELETE by trigger.
/// </summary>
public sealed class SqliteAuditStore : IAuditStore, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            chain      TEXT    NOT NULL,
            seq        INTEGER NOT NULL,
            time       INTEGER NOT NULL,
            body       BLOB    NOT NULL,
            hash       BLOB    NOT NULL,
            PRIMARY KEY (chain, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            chain TEXT    NOT NULL,
            seq   INTEGER NOT NULL,
            head  BLOB    NOT NULL,
            time  INTEGER NOT NULL,
            jws   TEXT    NOT NULL,
            PRIMARY KEY (chain, seq)
        );
        CREATE TRIGGER IF NOT EXISTS audit_events_append_only_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END;
        CREATE TRIGGER IF NOT EXISTS audit_events_append_only_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END;
        CREATE TRIGGER IF NOT EXISTS audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused'); END;
        CREATE TRIGGER IF NOT EXISTS audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused'); END;
        """;

    private const string InsertEvent = "INSERT INTO audit_events (chain, seq, time, body, hash) VALUES (?1, ?2, ?3, ?4, ?5)";
    private const string InsertCheckpoint = "INSERT INTO audit_checkpoints (chain, seq, head, time, jws) VALUES (?1, ?2, ?3, ?4, ?5)";

    private readonly string _path;
    private readonly string _connectionString;
    private readonly SqliteConnection _writeConnection;
    private readonly Lock _writeLock = new();

    // Prepared once on the write connection (guarded by _writeLock): parsing costs more than the statements.
    private readonly sqlite3_stmt _begin;
    private readonly sqlite3_stmt _commit;
    private readonly sqlite3_stmt _insertEvent;
    private readonly sqlite3_stmt _insertCheckpoint;
    private bool _disposed;

    /// <summary>
    /// The HResults of an <see cref="IOException"/> for a file another handle has locked: the errno of a refused
    /// <c>flock(LOCK_NB)</c> (EWOULDBLOCK: 11 on Linux, 35 on macOS) or ERROR_SHARING_VIOLATION on Windows.
    /// </summary>
    private static bool IsLockConflict(IOException ex) => ex.GetType() == typeof(IOException) && ex.HResult is 11 or 35 or unchecked((int)0x80070020);

    /// <summary>Opens (creating if needed) the audit tables in a SQLite database file.</summary>
    /// <param name="path">The database file.</param>
    public SqliteAuditStore(string path)
    {
        SqliteLibrary.EnsureConfigured();
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
        _writeConnection = new SqliteConnection(_connectionString);
        var prepared = new List<sqlite3_stmt>(4);
        try
        {
            _writeConnection.Open();

            // page_size applies to a new file only; 16 KB pages keep a ~700-byte event inline in the key B-tree.
            // wal_autocheckpoint: after a commit that leaves 256 pages (4 MB) or more in the WAL, this connection
            // copies them back (PASSIVE) before it returns, and the next commit restarts the WAL. journal_size_limit
            // trims a WAL that a long reader made grow back to 16 MB when it restarts.
            Execute(_writeConnection, """
                PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
                PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536;
                PRAGMA wal_autocheckpoint=256; PRAGMA journal_size_limit=16777216;
                """);
            Execute(_writeConnection, Schema);
            var db = _writeConnection.Handle!;
            prepared.Add(_begin = Prepare(db, "BEGIN IMMEDIATE"));
            prepared.Add(_commit = Prepare(db, "COMMIT"));
            prepared.Add(_insertEvent = Prepare(db, InsertEvent));
            prepared.Add(_insertCheckpoint = Prepare(db, InsertCheckpoint));
        }
        catch
        {
            prepared.ForEach(statement => statement.Dispose());
            _writeConnection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes the chain with an exclusive lock (<c>flock</c>) on the file <c>DATABASE.CHAIN.lock</c> beside the database;
    /// the operating system frees it when the process ends, however it ends.
    /// </summary>
    /// <inheritdoc />
    public Task<IAsyncDisposable> AcquireChainAsync(string chain, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(chain);
        if (!chain.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new ArgumentException("A chain id is letters, digits, '.', '_' and '-'.", nameof(chain));
        }

        var path = $"{_path}.{chain}.lock";
        try
        {
            // FileShare.None is an exclusive flock on Unix (a share lock on Windows), held until the handle closes.
            return Task.FromResult<IAsyncDisposable>(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None));
        }
        catch (IOException ex) when (IsLockConflict(ex))
        {
            throw new AuditChainInUseException(AuditChainInUseException.For(chain).Message, ex);
        }
    }

    /// <inheritdoc />
    public Task<AuditChainHead?> GetHeadAsync(string chain, CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, hash FROM audit_events WHERE chain = $chain ORDER BY seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$chain", chain);
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read() ? new AuditChainHead(reader.GetInt64(0), Bytes(reader, 1)) : null);
    }

    /// <inheritdoc />
    public Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(checkpoints);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);

            // The append path talks to SQLite directly through the connection's handle and statements prepared
            // once: binding five values per row through ADO.NET parameters costs more than the insert itself.
            var db = _writeConnection.Handle!;
            if (raw.sqlite3_get_autocommit(db) == 0)
            {
                // A ROLLBACK that failed after an earlier failed batch left the transaction open: end it first, or
                // every later BEGIN would fail and the trail would stay down until a restart.
                Check(db, raw.sqlite3_exec(db, "ROLLBACK"));
            }

            Step(db, _begin);
            var committed = false;
            try
            {
                string? chain = null;
                byte[] chainUtf8 = [];
                foreach (var record in records)
                {
                    if (!ReferenceEquals(chain, record.Chain))
                    {
                        chain = record.Chain;
                        chainUtf8 = System.Text.Encoding.UTF8.GetBytes(chain);
                    }

                    raw.sqlite3_bind_text(_insertEvent, 1, chainUtf8);
                    raw.sqlite3_bind_int64(_insertEvent, 2, record.Sequence);
                    raw.sqlite3_bind_int64(_insertEvent, 3, ToMicroseconds(record.Time));
                    raw.sqlite3_bind_blob(_insertEvent, 4, record.Body);
                    raw.sqlite3_bind_blob(_insertEvent, 5, record.Hash);
                    Step(db, _insertEvent);
                }

                foreach (var c in checkpoints)
                {
                    raw.sqlite3_bind_text(_insertCheckpoint, 1, c.Chain);
                    raw.sqlite3_bind_int64(_insertCheckpoint, 2, c.Sequence);
                    raw.sqlite3_bind_blob(_insertCheckpoint, 3, c.HeadHash);
                    raw.sqlite3_bind_int64(_insertCheckpoint, 4, ToMicroseconds(c.Time));
                    raw.sqlite3_bind_text(_insertCheckpoint, 5, c.Jws);
                    Step(db, _insertCheckpoint);
                }

                // Durable on return (WAL fsync). When the WAL has grown past wal_autocheckpoint, the commit also
                // copies it back into the database before it returns; a failure there does not fail the commit.
                Step(db, _commit);
                committed = true;
            }
            finally
            {
                if (!committed && raw.sqlite3_get_autocommit(db) == 0)
                {
                    raw.sqlite3_exec(db, "ROLLBACK");
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = AuditSql.Chains;
        using var reader = command.ExecuteReader();
        var chains = new List<string>();
        while (reader.Read())
        {
            chains.Add(reader.GetString(0));
        }

        return Task.FromResult<IReadOnlyList<string>>(chains);
    }

    /// <inheritdoc />
    public Task<long> CountAsync(string chain, CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        // The chain is gapless, so its highest sequence number is its length: one seek, not a scan.
        command.CommandText = "SELECT coalesce(max(seq), 0) FROM audit_events WHERE chain = $chain";
        command.Parameters.AddWithValue("$chain", chain);
        return Task.FromResult((long)command.ExecuteScalar()!);
    }

    /// <inheritdoc />
    public Task ScanChainAsync(string chain, AuditRowVisitor visitor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        using var connection = OpenRead();
        var db = connection.Handle!;

        // A sequential scan of the whole chain: memory-mapped reads save a copy per page.
        Check(db, raw.sqlite3_exec(db, "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384;"));
        Check(db, raw.sqlite3_prepare_v2(db, "SELECT seq, body, hash FROM audit_events WHERE chain = ?1 ORDER BY seq", out var select));
        using (select)
        {
            raw.sqlite3_bind_text(select, 1, chain);
            int rc;
            var rows = 0;
            while ((rc = raw.sqlite3_step(select)) == raw.SQLITE_ROW)
            {
                if ((++rows & 0xFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                visitor(raw.sqlite3_column_int64(select, 0), raw.sqlite3_column_blob(select, 1), raw.sqlite3_column_blob(select, 2));
            }

            if (rc != raw.SQLITE_DONE)
            {
                Check(db, rc);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<AuditRecord> ReadChainAsync(string chain, long fromSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, time, body, hash FROM audit_events WHERE chain = $chain AND seq >= $from ORDER BY seq";
        command.Parameters.AddWithValue("$chain", chain);
        command.Parameters.AddWithValue("$from", fromSequence);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new AuditRecord
            {
                Chain = chain,
                Sequence = reader.GetInt64(0),
                Time = FromMicroseconds(reader, 1),
                Body = Bytes(reader, 2),
                Hash = Bytes(reader, 3),
            };
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditCheckpoint>> GetCheckpointsAsync(string chain, CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, head, time, jws FROM audit_checkpoints WHERE chain = $chain ORDER BY seq";
        command.Parameters.AddWithValue("$chain", chain);
        using var reader = command.ExecuteReader();
        var checkpoints = new List<AuditCheckpoint>();
        while (reader.Read())
        {
            checkpoints.Add(new AuditCheckpoint
            {
                Chain = chain,
                Sequence = reader.GetInt64(0),
                HeadHash = Bytes(reader, 1),
                Time = FromMicroseconds(reader, 2),
                Jws = reader.IsDBNull(3) ? string.Empty : reader.GetString(3),
            });
        }

        return Task.FromResult<IReadOnlyList<AuditCheckpoint>>(checkpoints);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _begin.Dispose();
            _commit.Dispose();
            _insertEvent.Dispose();
            _insertCheckpoint.Dispose();
            try
            {
                // Leave a clean file when nobody else has it open. TRUNCATE waits for other connections through the
                // busy handler while holding the write lock, so wait briefly: a CLI closing its store must not stall
                // a running server's commits, and a server stopping during an export must not hang.
                Execute(_writeConnection, "PRAGMA busy_timeout=50; PRAGMA wal_checkpoint(TRUNCATE);");
            }
            catch (SqliteException)
            {
                // The WAL stays; the next writer copies it back.
            }

            _writeConnection.Dispose();
        }
    }

    // Columns are read leniently: a row an attacker filled with garbage must reach the verifier (which trusts
    // only body and hash, and reports the row), not crash the read.
    private static byte[] Bytes(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? [] : reader.GetFieldValue<byte[]>(ordinal);

    private static DateTimeOffset FromMicroseconds(SqliteDataReader reader, int ordinal) =>
        !reader.IsDBNull(ordinal) && reader.GetFieldType(ordinal) == typeof(long) && reader.GetInt64(ordinal) is var us && us is >= 0 and < 253402300799000000
            ? DateTimeOffset.UnixEpoch.AddTicks(us * 10)
            : default;

    private static long ToMicroseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static void Step(sqlite3 db, sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            Check(db, rc);
        }
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var statement));
        return statement;
    }

    private static void Check(sqlite3 db, int rc)
    {
        if (rc is not raw.SQLITE_OK and not raw.SQLITE_DONE and not raw.SQLITE_ROW)
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc);
        }
    }

    private SqliteConnection OpenRead()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
