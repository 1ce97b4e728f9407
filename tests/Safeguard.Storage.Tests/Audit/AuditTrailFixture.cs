using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Storage.Audit;

namespace Safeguard.Storage.Tests.Audit;

/// <summary>A real SQLite audit trail in a temporary folder: store, audit key, checkpoint sink and writer.</summary>
internal sealed class AuditTrailFixture : IAsyncDisposable
{
    public const string Chain = "node-a";

    private AuditTrailFixture(string directory, AuditOptions options)
    {
        Directory = directory;
        var folder = SafeguardDataFolder.At(directory);
        DatabasePath = folder.AuditDatabase;
        CheckpointDirectory = folder.AuditCheckpoints;
        Protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        Store = new SqliteAuditStore(DatabasePath);
        Keys = folder.OpenAuditKeys(Protector, TimeProvider.System);
        Sink = new DirectoryCheckpointSink(CheckpointDirectory);
        Options = options;
        Writer = NewWriter();
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    public string CheckpointDirectory { get; }

    public AesGcmKeyProtector Protector { get; }

    public SqliteAuditStore Store { get; }

    public AuditSigningKeys Keys { get; }

    public DirectoryCheckpointSink Sink { get; }

    public AuditOptions Options { get; }

    public AuditWriter Writer { get; private set; }

    public static async Task<AuditTrailFixture> StartAsync(int checkpointEvery = 10)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("safeguard-audit-").FullName;
        var fixture = new AuditTrailFixture(directory, new AuditOptions { ChainId = Chain, CheckpointEveryEvents = checkpointEvery });
        await fixture.Writer.StartAsync(CancellationToken.None);
        return fixture;
    }

    public AuditWriter NewWriter() =>
        new(Store, Keys, Sink, Microsoft.Extensions.Options.Options.Create(Options), TimeProvider.System, NullLogger<AuditWriter>.Instance);

    public static AuditEvent Event(int i) => new()
    {
        EventId = Guid.CreateVersion7().ToString(),
        Time = DateTimeOffset.UnixEpoch.AddYears(56).AddSeconds(i),
        Type = i % 3 == 0 ? AuditEventType.PhiAccessDenied : AuditEventType.PhiAccessAllowed,
        Outcome = i % 3 == 0 ? AuditOutcome.Denied : AuditOutcome.Success,
        Subject = $"user-{i % 7}",
        ClientId = "ehr-portal",
        TokenId = $"jti-{i}",
        Action = AuditAction.Read,
        ResourceType = "Observation",
        ResourceId = $"obs-{i}",
        PatientId = $"patient-{i % 5}",
        SourceIp = "10.1.2.3",
        HttpStatus = i % 3 == 0 ? 403 : 200,
        CorrelationId = $"corr-{i}",
    };

    public async Task AppendAsync(int count)
    {
        var tasks = Enumerable.Range(1, count).Select(i => Writer.AppendAsync(Event(i), CancellationToken.None));
        await Task.WhenAll(tasks);
    }

    public async Task<AuditVerificationReport> VerifyAsync()
    {
        await Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        var verifier = new AuditVerifier(Store, Keys.Trusted, DirectoryCheckpointSink.ReadAll(CheckpointDirectory));
        return await verifier.VerifyAsync(null, CancellationToken.None);
    }

    /// <summary>Runs SQL as an attacker with write access to the database file: the append-only triggers go first.</summary>
    public void Tamper(Action<SqliteConnection> attack)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        Execute(connection, """
            DROP TRIGGER audit_events_append_only_update; DROP TRIGGER audit_events_append_only_delete;
            DROP TRIGGER audit_checkpoints_append_only_update; DROP TRIGGER audit_checkpoints_append_only_delete;
            """);
        attack(connection);
    }

    public static void Execute(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    public static (byte[] Body, byte[] Hash) Row(SqliteConnection connection, long seq)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT body, hash FROM audit_events WHERE chain = $c AND seq = $s";
        command.Parameters.AddWithValue("$c", Chain);
        command.Parameters.AddWithValue("$s", seq);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read(), $"No row {seq}.");
        return ((byte[])reader.GetValue(0), (byte[])reader.GetValue(1));
    }

    public async ValueTask DisposeAsync()
    {
        await Writer.DisposeAsync();
        Store.Dispose();
        Sink.Dispose();
        Protector.Dispose();
        SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
