using System.Data.Common;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Safeguard.Authorization;

namespace Safeguard.Storage.Data;

/// <summary>
/// Refresh tokens; a use is one conditional UPDATE, so a token rotates once across nodes. Rotations (the refresh
/// grant's writes: mark the old token used, touch the session, insert the new token) go through one writer per node
/// that commits every rotation waiting at that moment in one transaction (group commit): on SQLite, whose writes are
/// serialised and fsynced at each commit, concurrent grants then share the commit instead of queueing for it.
/// </summary>
public sealed class EfRefreshTokenStore : IRefreshTokenStore, IAsyncDisposable
{
    /// <summary>The most rotations committed together.</summary>
    private const int MaxBatch = 64;

    private readonly SafeguardDatabase database;
    private readonly Channel<Rotation> _rotations = Channel.CreateUnbounded<Rotation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    /// <summary>Creates the store.</summary>
    /// <param name="database">The database.</param>
    public EfRefreshTokenStore(SafeguardDatabase database)
    {
        this.database = database;
        _writer = Task.Run(WriteRotationsAsync);
    }

    /// <inheritdoc />
    public Task<bool> RotateAsync(string usedHash, DateTimeOffset at, string sessionId, RefreshToken? replacement, CancellationToken cancellationToken)
    {
        var rotation = new Rotation(usedHash, at.ToUnixTimeMilliseconds(), sessionId, replacement is null ? null : Row(replacement));
        ObjectDisposedException.ThrowIf(!_rotations.Writer.TryWrite(rotation), this);

        return rotation.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops the writer once the rotations already queued are committed.</summary>
    /// <returns>A task that completes when it has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        _rotations.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteRotationsAsync()
    {
        var batch = new List<Rotation>(MaxBatch);
        while (await _rotations.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _rotations.Reader.TryRead(out var rotation))
            {
                batch.Add(rotation);
            }

            // One order for every node's batches (sessions, then tokens), so two nodes' transactions do not deadlock on PostgreSQL.
            batch.Sort(static (a, b) => string.CompareOrdinal(a.SessionId, b.SessionId) is var bySession and not 0 ? bySession : string.CompareOrdinal(a.UsedHash, b.UsedHash));
            try
            {
                await CommitAsync(batch, retry: false).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && batch.Count > 1)
            {
                // One bad rotation must not fail the others: each again in its own transaction.
                foreach (var rotation in batch)
                {
                    try
                    {
                        await CommitAsync([rotation], retry: true).ConfigureAwait(false);
                    }
                    catch (Exception single) when (single is not OutOfMemoryException)
                    {
                        rotation.Done.TrySetException(single);
                    }
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                batch[0].Done.TrySetException(ex);
            }
        }
    }

    /// <summary>
    /// Commits rotations in one transaction. On a <paramref name="retry"/> after a failed commit, a rotation whose new
    /// token is already stored did commit (the failure came after COMMIT, say a lost connection) and counts as done,
    /// not as a reuse.
    /// </summary>
    private async Task CommitAsync(List<Rotation> batch, bool retry)
    {
        var results = new bool[batch.Count];
        if (database.PreparedConnections is { } prepared)
        {
            // SQLite: on a kept connection whose three statements stay prepared from batch to batch.
            await CommitOnSqliteAsync(prepared, batch, retry, results).ConfigureAwait(false);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Done.TrySetResult(results[i]);
            }

            return;
        }

        var connection = await database.OpenConnectionAsync(CancellationToken.None).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                if (connection is NpgsqlConnection postgres && !retry)
                {
                    // PostgreSQL: each rotation is one statement, and the whole batch one round trip.
                    await RotateInOneRoundTripAsync(postgres, (NpgsqlTransaction)transaction, batch, results).ConfigureAwait(false);
                }
                else
                {
                    // Three statements per rotation, each parsed once per batch.
                    using var markUsed = Prepared(connection, transaction, MarkUsedSql, "at", "hash");
                    using var touch = Prepared(connection, transaction, TouchSql, "at", "id");
                    using var insert = Prepared(connection, transaction, InsertSql, "hash", "family", "session", "payload", "expires");
                    using var exists = Prepared(connection, transaction, ExistsSql, "hash");
                    await RotateEachAsync(batch, retry, results, markUsed, touch, insert, exists).ConfigureAwait(false);
                }

                await transaction.CommitAsync().ConfigureAwait(false);
            }
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }
    }

    /// <summary>The batch in one transaction on a kept SQLite connection; the connection is closed, not kept, after a failure.</summary>
    private static async Task CommitOnSqliteAsync(SqlitePreparedConnections prepared, List<Rotation> batch, bool retry, bool[] results)
    {
        var lease = prepared.Rent();
        try
        {
            var transaction = lease.Connection.BeginTransaction();
            await using (transaction.ConfigureAwait(false))
            {
                var markUsed = lease.Command(MarkUsedSql, "at", "hash");
                var touch = lease.Command(TouchSql, "at", "id");
                var insert = lease.Command(InsertSql, "hash", "family", "session", "payload", "expires");
                var exists = lease.Command(ExistsSql, "hash");
                markUsed.Transaction = touch.Transaction = insert.Transaction = exists.Transaction = transaction;
                await RotateEachAsync(batch, retry, results, markUsed, touch, insert, exists).ConfigureAwait(false);
                await transaction.CommitAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            lease.Dispose();
            throw;
        }

        prepared.Return(lease);
    }

    /// <summary>
    /// Each rotation of the batch, inside the caller's transaction: mark the old token used (only if unused and
    /// unrevoked), then touch its session and store the new token only if that happened. On a
    /// <paramref name="retry"/>, a rotation whose new token is already stored did commit before and counts as done.
    /// </summary>
    private static async Task RotateEachAsync(List<Rotation> batch, bool retry, bool[] results, DbCommand markUsed, DbCommand touch, DbCommand insert, DbCommand exists)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var rotation = batch[i];
            if (retry && rotation.Next is { } stored)
            {
                exists.Parameters[0].Value = stored.TokenHash;
                if (await exists.ExecuteScalarAsync().ConfigureAwait(false) is not null)
                {
                    results[i] = true;
                    continue;
                }
            }

            results[i] = await ExecuteAsync(markUsed, rotation.At, rotation.UsedHash).ConfigureAwait(false) == 1;
            if (!results[i])
            {
                continue;
            }

            await ExecuteAsync(touch, rotation.At, rotation.SessionId).ConfigureAwait(false);
            if (rotation.Next is { } next)
            {
                await ExecuteAsync(insert, next.TokenHash, next.FamilyId, next.SessionId, next.Payload, next.ExpiresAt).ConfigureAwait(false);
            }
        }
    }

    private const string MarkUsedSql = "UPDATE refresh_tokens SET used_at = @at WHERE token_hash = @hash AND used_at IS NULL AND revoked_at IS NULL";
    private const string TouchSql = "UPDATE sessions SET last_seen_at = @at WHERE id = @id AND ended_at IS NULL AND last_seen_at < @at";
    private const string ExistsSql = "SELECT 1 FROM refresh_tokens WHERE token_hash = @hash";

    /// <summary>
    /// The rotations of a batch as one <see cref="NpgsqlBatch"/>: per rotation one statement whose data-modifying CTEs
    /// mark the old token used (only if unused and unrevoked), then touch its session and store the new token only if
    /// that happened; it returns a row exactly when the rotation won.
    /// </summary>
    private static async Task RotateInOneRoundTripAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Rotation> batch, bool[] results)
    {
        var statements = new NpgsqlBatch(connection, transaction);
        await using var _ = statements.ConfigureAwait(false);
        foreach (var rotation in batch)
        {
            var command = new NpgsqlBatchCommand(rotation.Next is null ? MarkUsedAndTouchSql + "SELECT 1 FROM used" : MarkUsedAndTouchSql + InsertIfUsedSql);
            command.Parameters.AddWithValue("at", rotation.At);
            command.Parameters.AddWithValue("hash", rotation.UsedHash);
            command.Parameters.AddWithValue("id", rotation.SessionId);
            if (rotation.Next is { } next)
            {
                command.Parameters.AddWithValue("new_hash", next.TokenHash);
                command.Parameters.AddWithValue("family", next.FamilyId);
                command.Parameters.AddWithValue("session", next.SessionId);
                command.Parameters.AddWithValue("payload", next.Payload);
                command.Parameters.AddWithValue("expires", next.ExpiresAt);
            }

            statements.BatchCommands.Add(command);
        }

        var reader = await statements.ExecuteReaderAsync().ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            for (var i = 0; i < batch.Count; i++)
            {
                results[i] = await reader.ReadAsync().ConfigureAwait(false);
                await reader.NextResultAsync().ConfigureAwait(false);
            }
        }
    }

    private const string MarkUsedAndTouchSql =
        "WITH used AS (UPDATE refresh_tokens SET used_at = @at WHERE token_hash = @hash AND used_at IS NULL AND revoked_at IS NULL RETURNING session_id), " +
        "touched AS (UPDATE sessions SET last_seen_at = @at WHERE id = @id AND ended_at IS NULL AND last_seen_at < @at AND EXISTS (SELECT 1 FROM used)) ";

    private const string InsertIfUsedSql =
        "INSERT INTO refresh_tokens (token_hash, family_id, session_id, payload, expires_at, used_at, revoked_at) " +
        "SELECT @new_hash, @family, @session, @payload, @expires, NULL, NULL FROM used RETURNING 1";

    /// <summary>A command of the transaction whose parameters <see cref="ExecuteAsync"/> sets, in this order, on each run.</summary>
    private static DbCommand Prepared(DbConnection connection, DbTransaction transaction, string sql, params string[] names)
    {
        var command = SafeguardDatabase.Command(connection, sql, [.. names.Select(n => (n, (object?)null))]);
        command.Transaction = transaction;
        return command;
    }

    private static async Task<int> ExecuteAsync(DbCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private const string InsertSql =
        "INSERT INTO refresh_tokens (token_hash, family_id, session_id, payload, expires_at, used_at, revoked_at) VALUES (@hash, @family, @session, @payload, @expires, NULL, NULL)";

    private static RefreshTokenEntity Row(RefreshToken token) => new()
    {
        TokenHash = token.TokenHash,
        FamilyId = token.FamilyId,
        SessionId = token.SessionId,
        Payload = JsonSerializer.Serialize(token with { UsedAt = null, RevokedAt = null }, AuthorizationJsonContext.Default.RefreshToken),
        ExpiresAt = token.ExpiresAt.ToUnixTimeMilliseconds(),
    };

    /// <summary>A rotation waiting for the writer.</summary>
    private sealed record Rotation(string UsedHash, long At, string SessionId, RefreshTokenEntity? Next)
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <inheritdoc />
    public async Task AddAsync(RefreshToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);

        // Plain SQL: this runs on every refresh (see SafeguardDatabase.OpenConnectionAsync).
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var row = Row(token);
            using var insert = SafeguardDatabase.Command(
                connection, InsertSql, ("hash", row.TokenHash), ("family", row.FamilyId), ("session", row.SessionId), ("payload", row.Payload), ("expires", row.ExpiresAt));
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<RefreshToken?> FindAsync(string tokenHash, CancellationToken cancellationToken)
    {
        // Plain SQL: this runs on every refresh (see SafeguardDatabase.OpenConnectionAsync).
        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ReadAsync(connection, tokenHash, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<RefreshTokenUse?> FindForUseAsync(string tokenHash, CancellationToken cancellationToken)
    {
        // One statement, one read transaction: a refresh reads nothing else (see SafeguardDatabase.OpenConnectionAsync).
        // On SQLite the statement stays prepared on a kept connection: parsing the join cost more than running it.
        if (database.PreparedConnections is { } prepared)
        {
            var lease = prepared.Rent();
            RefreshTokenUse? found;
            try
            {
                var command = lease.Command(FindForUseSql, "hash");
                command.Parameters[0].Value = tokenHash;
                using var reader = command.ExecuteReader();
                found = reader.Read() ? ReadUse(reader, tokenHash) : null;
            }
            catch
            {
                lease.Dispose();
                throw;
            }

            prepared.Return(lease);
            return found;
        }

        var connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using var read = SafeguardDatabase.Command(connection, FindForUseSql, ("hash", tokenHash));
            var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadUse(reader, tokenHash) : null;
            }
        }
    }

    /// <summary>The token, its session and the session's user from the current row of <see cref="FindForUseSql"/>.</summary>
    private static RefreshTokenUse ReadUse(DbDataReader reader, string tokenHash)
    {
        var token = ToToken(new RefreshTokenEntity
        {
            TokenHash = tokenHash,
            Payload = reader.GetString(0),
            UsedAt = reader.IsDBNull(1) ? null : reader.GetInt64(1),
            RevokedAt = reader.IsDBNull(2) ? null : reader.GetInt64(2),
        });
        const int session = 3;
        const int user = session + 14;
        return new RefreshTokenUse(
            token,
            reader.IsDBNull(session) ? null : EfSessionStore.Read(reader, session),
            reader.IsDBNull(user) ? null : EfUserStore.Read(reader, user));
    }

    private static readonly string FindForUseSql =
        "SELECT t.payload, t.used_at, t.revoked_at, " + Prefixed("s", EfSessionStore.Columns) + ", " + Prefixed("u", EfUserStore.Columns) +
        " FROM refresh_tokens t LEFT JOIN sessions s ON s.id = t.session_id LEFT JOIN users u ON u.subject = s.subject WHERE t.token_hash = @hash";

    private static string Prefixed(string table, string columns) => string.Join(", ", columns.Split(", ").Select(c => table + "." + c));

    private static async Task<RefreshToken?> ReadAsync(DbConnection connection, string tokenHash, CancellationToken cancellationToken)
    {
        using var read = SafeguardDatabase.Command(connection, "SELECT payload, used_at, revoked_at FROM refresh_tokens WHERE token_hash = @hash", ("hash", tokenHash));
        var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            return ToToken(new RefreshTokenEntity
            {
                TokenHash = tokenHash,
                Payload = reader.GetString(0),
                UsedAt = reader.IsDBNull(1) ? null : reader.GetInt64(1),
                RevokedAt = reader.IsDBNull(2) ? null : reader.GetInt64(2),
            });
        }
    }

    /// <inheritdoc />
    public async Task<int> RevokeFamilyAsync(string sessionId, string familyId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RefreshTokens.Where(t => t.SessionId == sessionId && t.FamilyId == familyId && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.RevokedAt, atMs), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> RevokeSessionAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var atMs = at.ToUnixTimeMilliseconds();
        using var context = database.CreateContext();
        return await context.RefreshTokens.Where(t => t.SessionId == sessionId && t.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(t => t.RevokedAt, atMs), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> PurgeExpiredAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        // No index on expires_at (every rotation would write it at a random place): the expired rows are found by a scan
        // in a read transaction, which does not hold up writers, then deleted by key, a thousand per transaction.
        var beforeMs = before.ToUnixTimeMilliseconds();
        List<string> expired;
        using (var context = database.CreateContext())
        {
            expired = await context.RefreshTokens.AsNoTracking().Where(t => t.ExpiresAt < beforeMs).Select(t => t.TokenHash).ToListAsync(cancellationToken).ConfigureAwait(false);
        }

        var deleted = 0;
        foreach (var chunk in expired.Chunk(1000))
        {
            using var context = database.CreateContext();
            deleted += await context.RefreshTokens.Where(t => chunk.Contains(t.TokenHash) && t.ExpiresAt < beforeMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    private static RefreshToken ToToken(RefreshTokenEntity entity) => JsonSerializer.Deserialize(entity.Payload, AuthorizationJsonContext.Default.RefreshToken)! with
    {
        UsedAt = entity.UsedAt is { } used ? DateTimeOffset.FromUnixTimeMilliseconds(used) : null,
        RevokedAt = entity.RevokedAt is { } revoked ? DateTimeOffset.FromUnixTimeMilliseconds(revoked) : null,
    };
}
