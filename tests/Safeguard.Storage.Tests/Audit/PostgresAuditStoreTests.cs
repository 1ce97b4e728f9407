using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Storage.Audit;

namespace Safeguard.Storage.Tests.Audit;

/// <summary>
/// The audit trail on a real PostgreSQL, which ./test.sh starts (SAFEGUARD_TEST_POSTGRES names a superuser
/// connection). Each test gets its own database; Safeguard connects as a login role that is only a member of
/// the INSERT-and-SELECT audit role.
/// </summary>
public sealed class PostgresAuditStoreTests : IAsyncLifetime
{
    private readonly string _database = "sg_audit_" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _appRole = "sg_app_" + Guid.NewGuid().ToString("N")[..12];
    private string _owner = string.Empty;
    private string _app = string.Empty;

    private static string Server => Environment.GetEnvironmentVariable("SAFEGUARD_TEST_POSTGRES")
        ?? throw new InvalidOperationException("SAFEGUARD_TEST_POSTGRES is not set: run the tests with ./test.sh, which starts PostgreSQL.");

    public async Task InitializeAsync()
    {
        await using (var admin = new NpgsqlConnection(Server))
        {
            await admin.OpenAsync();
            await Execute(admin, $"CREATE DATABASE {_database}");
            await Execute(admin, $"CREATE ROLE {_appRole} LOGIN");
        }

        _owner = new NpgsqlConnectionStringBuilder(Server) { Database = _database }.ToString();
        _app = new NpgsqlConnectionStringBuilder(Server) { Database = _database, Username = _appRole, Password = null }.ToString();
        await PostgresAuditStore.InitializeAsync(_owner, _appRole, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();
        await Execute(admin, $"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        await Execute(admin, $"DROP ROLE IF EXISTS {_appRole}");
    }

    [Fact]
    public async Task Writer_AppendsDurablyAndTheTrailVerifies()
    {
        await using var trail = await PostgresTrail.StartAsync(_app);
        var sequences = await Task.WhenAll(Enumerable.Range(1, 120).Select(i => trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None)));
        await trail.Writer.StopAsync();

        var report = await trail.VerifyAsync();

        Assert.Equal(120, sequences.Distinct().Count());
        var chain = Assert.Single(report.Chains);
        Assert.True(chain.IsIntact, string.Join("; ", chain.Problems.Select(p => p.Detail)));
        Assert.True(chain.CheckpointsVerified >= 10);
    }

    [Theory]
    [InlineData("UPDATE audit_events SET time = 0")]
    [InlineData("DELETE FROM audit_events")]
    [InlineData("TRUNCATE audit_events")]
    [InlineData("UPDATE audit_checkpoints SET jws = 'x'")]
    [InlineData("DELETE FROM audit_checkpoints")]
    public async Task ApplicationRole_HasNoRightToChangeOrRemoveRecords(string sql)
    {
        await using (var trail = await PostgresTrail.StartAsync(_app))
        {
            await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        }

        await using var connection = new NpgsqlConnection(_app);
        await connection.OpenAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => Execute(connection, sql));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
    }

    [Theory]
    [InlineData("UPDATE audit_events SET time = 0")]
    [InlineData("DELETE FROM audit_events")]
    [InlineData("TRUNCATE audit_events")]
    [InlineData("DELETE FROM audit_checkpoints")]
    public async Task Database_RefusesChangesEvenFromTheOwner(string sql)
    {
        await using (var trail = await PostgresTrail.StartAsync(_app))
        {
            await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        }

        await using var connection = new NpgsqlConnection(_owner);
        await connection.OpenAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => Execute(connection, sql));

        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("modify a field", AuditProblemKind.Modified)]
    [InlineData("delete a row", AuditProblemKind.Missing)]
    public async Task Verify_DetectsTamperingBySomeoneWhoDisabledTheTriggers(string attack, AuditProblemKind expected)
    {
        await using var trail = await PostgresTrail.StartAsync(_app);
        await Task.WhenAll(Enumerable.Range(1, 60).Select(i => trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None)));
        await trail.Writer.StopAsync();

        await using (var owner = new NpgsqlConnection(_owner))
        {
            await owner.OpenAsync();
            await Execute(owner, "ALTER TABLE audit_events DISABLE TRIGGER USER");
            await Execute(owner, attack == "modify a field"
                ? "UPDATE audit_events SET body = overlay(body placing '9'::bytea from 20 for 1) WHERE seq = 37"
                : "DELETE FROM audit_events WHERE seq = 37");
        }

        var report = await trail.VerifyAsync();

        var problem = Assert.Single(report.Chains).Problems[0];
        Assert.Equal(expected, problem.Kind);
        Assert.Equal(37, problem.Sequence);
    }

    [Fact]
    public async Task ChainLease_IsExclusiveAcrossStores_AndFreedWithTheWriter()
    {
        await using var trail = await PostgresTrail.StartAsync(_app);
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        using var otherNode = new PostgresAuditStore(_app);
        await using var second = new AuditWriter(otherNode, trail.Keys, null, Options.Create(new AuditOptions { ChainId = "pg-node" }), TimeProvider.System, NullLogger<AuditWriter>.Instance);

        var refused = await Assert.ThrowsAsync<AuditChainInUseException>(() => second.StartAsync(CancellationToken.None));
        Assert.Contains("Safeguard:Audit:ChainId", refused.Message, StringComparison.Ordinal);
        Assert.Contains("'pg-node'", refused.Message, StringComparison.Ordinal);
        Assert.False(second.IsRunning);

        // Another chain on the same database is no contention.
        await using (var lease = await otherNode.AcquireChainAsync("pg-node-2", CancellationToken.None))
        {
            Assert.NotNull(lease);
        }

        await trail.Writer.StopAsync();
        await second.StartAsync(CancellationToken.None);
        var next = await second.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None);
        await second.StopAsync();

        Assert.Equal(3, next); // 1, the stop checkpoint's marker at 2, then this one
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task ChainLease_LostWithItsSession_IsTakenBackBeforeTheNextWrite_OrTheWriteFails()
    {
        await using var trail = await PostgresTrail.StartAsync(_app);
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);

        // The session holding the lock ends (a restart, a cut connection): the lock goes with it.
        Assert.Equal(1, await TerminateLeaseSessionsAsync("pg-node"));

        // A second node cannot be allowed to write in the gap unnoticed: it takes the free chain ...
        using var otherNode = new PostgresAuditStore(_app);
        var stolen = await otherNode.AcquireChainAsync("pg-node", CancellationToken.None);

        // ... and this node's writes fail closed instead of forking the chain: the first finds its session gone, the
        // next ones find the lock held when they try to take it back.
        var broken = await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.Writer.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None));
        Assert.Equal(SafeguardErrorCodes.AuditStoreUnavailable, broken.ErrorCode);
        var refused = await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.Writer.AppendAsync(AuditTrailFixture.Event(3), CancellationToken.None));
        Assert.IsType<AuditChainInUseException>(refused.InnerException);
        Assert.False(trail.Writer.IsHealthy);

        // Once the other lets go, the writer takes the lock back and carries on the same chain.
        await stolen.DisposeAsync();
        var after = await trail.Writer.AppendAsync(AuditTrailFixture.Event(4), CancellationToken.None);
        await trail.Writer.StopAsync();

        Assert.True(after > 1);
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    /// <summary>
    /// Audit commits wait for the WAL flush whatever the role says: with <c>synchronous_commit = off</c> set for the
    /// application role, a trigger that records the setting in force sees <c>on</c> for every audit insert, through
    /// the writer's lease and through a store's own connection alike.
    /// </summary>
    [Fact]
    public async Task AuditTransactions_RunWithSynchronousCommitOn_WhateverTheRoleDefault()
    {
        await using (var owner = new NpgsqlConnection(_owner))
        {
            await owner.OpenAsync();
            await Execute(owner, $"ALTER ROLE {_appRole} SET synchronous_commit = off");
            await Execute(owner, "CREATE TABLE sync_probe (setting text NOT NULL)");
            await Execute(owner, "CREATE FUNCTION record_sync() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN INSERT INTO sync_probe VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$");
            await Execute(owner, "CREATE TRIGGER audit_events_sync_probe BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION record_sync()");
        }

        await using (var trail = await PostgresTrail.StartAsync(_app))
        {
            await Task.WhenAll(Enumerable.Range(1, 5).Select(i => trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None)));
        }

        using (var direct = new PostgresAuditStore(_app))
        {
            await direct.AppendAsync([new AuditRecord { Chain = "probe", Sequence = 1, Time = DateTimeOffset.UnixEpoch, Body = [1], Hash = new byte[32] }], [], CancellationToken.None);
        }

        // The role's default really is off: the probe would have seen it.
        await using var check = new NpgsqlConnection(_app);
        await check.OpenAsync();
        await using (var roleDefault = new NpgsqlCommand("SELECT current_setting('synchronous_commit')", check))
        {
            Assert.Equal("off", (string)(await roleDefault.ExecuteScalarAsync())!);
        }

        await using var reader = new NpgsqlConnection(_owner);
        await reader.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT string_agg(DISTINCT setting, ','), count(*) FROM sync_probe", reader);
        await using var rows = await read.ExecuteReaderAsync();
        Assert.True(await rows.ReadAsync());
        Assert.Equal("on", rows.GetString(0));
        Assert.True(rows.GetInt64(1) >= 7, $"{rows.GetInt64(1)} audit inserts probed");
    }

    /// <summary>Ends the sessions holding a chain's advisory lock (its 64-bit key is split into classid and objid in pg_locks).</summary>
    private async Task<int> TerminateLeaseSessionsAsync(string chain)
    {
        var key = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("safeguard-audit-chain:" + chain)));
        await using var admin = new NpgsqlConnection(_owner);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1", admin);
        command.Parameters.AddWithValue((long)(uint)(key >>> 32));
        command.Parameters.AddWithValue((long)(uint)key);
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private sealed class PostgresTrail : IAsyncDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("safeguard-pg-audit-").FullName;

        private PostgresTrail(string connectionString)
        {
            Protector = new Safeguard.Keys.AesGcmKeyProtector(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            Store = new PostgresAuditStore(connectionString);
            Keys = SafeguardDataFolder.At(_directory).OpenAuditKeys(Protector, TimeProvider.System);
            Writer = new AuditWriter(Store, Keys, null, Options.Create(new AuditOptions { ChainId = "pg-node", CheckpointEveryEvents = 10 }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        }

        public Safeguard.Keys.AesGcmKeyProtector Protector { get; }

        public PostgresAuditStore Store { get; }

        public AuditSigningKeys Keys { get; }

        public AuditWriter Writer { get; }

        public static async Task<PostgresTrail> StartAsync(string connectionString)
        {
            var trail = new PostgresTrail(connectionString);
            await trail.Writer.StartAsync(CancellationToken.None);
            return trail;
        }

        public async Task<AuditVerificationReport> VerifyAsync()
        {
            await Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
            return await new AuditVerifier(Store, Keys.Trusted).VerifyAsync(null, CancellationToken.None);
        }

        public async ValueTask DisposeAsync()
        {
            await Writer.DisposeAsync();
            Store.Dispose();
            Protector.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
