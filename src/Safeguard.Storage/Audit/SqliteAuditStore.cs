using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Safeguard.Audit;

namespace Safeguard.Storage.Audit;

/// <summary>
/// The audit trail in SQLite (the embedded default): WAL with <c>synchronous=FULL</c>, so a returned commit
/// survives power loss; one transaction per batch (group commit). The audit tables refuse UPDATE and DELETE by
/// trigger. Only the writer appends; reads use their own connections.
/// </summary>
public sealed class SqliteAuditStore : IAuditStore, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_events (
            chain      TEXT    NOT NULL,
            seq        INTEGER NOT NULL,
            event_id   TEXT    NOT NULL,
            time       TEXT    NOT NULL,
            type       TEXT    NOT NULL,
            outcome    TEXT    NOT NULL,
            subject    TEXT,
            patient_id TEXT,
            body       BLOB    NOT NULL,
            hash       BLOB    NOT NULL,
            PRIMARY KEY (chain, seq)
        );
        CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events (subject) WHERE subject IS NOT NULL;
        CREATE INDEX IF NOT EXISTS audit_events_patient ON audit_events (patient_id) WHERE patient_id IS NOT NULL;
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            chain TEXT    NOT NULL,
            seq   INTEGER NOT NULL,
            head  BLOB    NOT NULL,
            time  TEXT    NOT NULL,
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

    private readonly string _connectionString;
    private readonly SqliteConnection _writeConnection;
    private readonly Lock _writeLock = new();

    /// <summary>Opens (creating if needed) the audit tables in a SQLite database file.</summary>
    /// <param name="path">The database file.</param>
    public SqliteAuditStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
        _writeConnection = new SqliteConnection(_connectionString);
        _writeConnection.Open();
        Execute(_writeConnection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
        Execute(_writeConnection, Schema);
    }

    /// <inheritdoc />
    public Task<AuditChainHead?> GetHeadAsync(string chain, CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, hash FROM audit_events WHERE chain = $chain ORDER BY seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$chain", chain);
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read() ? new AuditChainHead(reader.GetInt64(0), (byte[])reader.GetValue(1)) : null);
    }

    /// <inheritdoc />
    public Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(checkpoints);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_writeLock)
        {
            using var transaction = _writeConnection.BeginTransaction();
            using var insert = _writeConnection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO audit_events (chain, seq, event_id, time, type, outcome, subject, patient_id, body, hash)
                VALUES ($chain, $seq, $event_id, $time, $type, $outcome, $subject, $patient_id, $body, $hash)
                """;
            var chain = insert.Parameters.Add("$chain", SqliteType.Text);
            var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
            var eventId = insert.Parameters.Add("$event_id", SqliteType.Text);
            var time = insert.Parameters.Add("$time", SqliteType.Text);
            var type = insert.Parameters.Add("$type", SqliteType.Text);
            var outcome = insert.Parameters.Add("$outcome", SqliteType.Text);
            var subject = insert.Parameters.Add("$subject", SqliteType.Text);
            var patient = insert.Parameters.Add("$patient_id", SqliteType.Text);
            var body = insert.Parameters.Add("$body", SqliteType.Blob);
            var hash = insert.Parameters.Add("$hash", SqliteType.Blob);
            insert.Prepare();
            foreach (var record in records)
            {
                chain.Value = record.Chain;
                seq.Value = record.Sequence;
                eventId.Value = record.EventId;
                time.Value = AuditCanonicalJson.FormatTime(record.Time);
                type.Value = record.Type;
                outcome.Value = record.Outcome;
                subject.Value = (object?)record.Subject ?? DBNull.Value;
                patient.Value = (object?)record.PatientId ?? DBNull.Value;
                body.Value = record.Body;
                hash.Value = record.Hash;
                insert.ExecuteNonQuery();
            }

            if (checkpoints.Count > 0)
            {
                using var checkpoint = _writeConnection.CreateCommand();
                checkpoint.Transaction = transaction;
                checkpoint.CommandText = "INSERT INTO audit_checkpoints (chain, seq, head, time, jws) VALUES ($chain, $seq, $head, $time, $jws)";
                foreach (var c in checkpoints)
                {
                    checkpoint.Parameters.Clear();
                    checkpoint.Parameters.AddWithValue("$chain", c.Chain);
                    checkpoint.Parameters.AddWithValue("$seq", c.Sequence);
                    checkpoint.Parameters.AddWithValue("$head", c.HeadHash);
                    checkpoint.Parameters.AddWithValue("$time", AuditCanonicalJson.FormatTime(c.Time));
                    checkpoint.Parameters.AddWithValue("$jws", c.Jws);
                    checkpoint.ExecuteNonQuery();
                }
            }

            transaction.Commit();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT chain FROM audit_events UNION SELECT DISTINCT chain FROM audit_checkpoints ORDER BY 1";
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
        command.CommandText = "SELECT count(*) FROM audit_events WHERE chain = $chain";
        command.Parameters.AddWithValue("$chain", chain);
        return Task.FromResult((long)command.ExecuteScalar()!);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<AuditRecord> ReadChainAsync(string chain, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var connection = OpenRead();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, event_id, time, type, outcome, subject, patient_id, body, hash FROM audit_events WHERE chain = $chain ORDER BY seq";
        command.Parameters.AddWithValue("$chain", chain);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new AuditRecord
            {
                Chain = chain,
                Sequence = reader.GetInt64(0),
                EventId = reader.GetString(1),
                Time = ParseTime(reader, 2),
                Type = reader.GetString(3),
                Outcome = reader.GetString(4),
                Subject = reader.IsDBNull(5) ? null : reader.GetString(5),
                PatientId = reader.IsDBNull(6) ? null : reader.GetString(6),
                Body = Bytes(reader, 7),
                Hash = Bytes(reader, 8),
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
                Time = ParseTime(reader, 2),
                Jws = reader.IsDBNull(3) ? string.Empty : reader.GetString(3),
            });
        }

        return Task.FromResult<IReadOnlyList<AuditCheckpoint>>(checkpoints);
    }

    /// <inheritdoc />
    public void Dispose() => _writeConnection.Dispose();

    // The columns are read leniently: a row an attacker filled with garbage must reach the verifier (which
    // trusts only body and hash, and reports the row), not crash the read.
    private static DateTimeOffset ParseTime(SqliteDataReader reader, int ordinal) =>
        !reader.IsDBNull(ordinal) && DateTimeOffset.TryParse(reader.GetString(ordinal), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : default;

    private static byte[] Bytes(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? [] : reader.GetFieldValue<byte[]>(ordinal);

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
