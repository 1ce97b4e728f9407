using Microsoft.Data.Sqlite;

namespace Safeguard.Storage.Tests.Audit;

/// <summary>
/// The SQLite trail's write-ahead log stays bounded under sustained appends: the writer copies it back itself and
/// starts it again, instead of letting it grow by every commit (each commit writes whole 16 KB pages).
/// </summary>
public sealed class SqliteAuditWalTests
{
    private const long Megabyte = 1024 * 1024;

    [Fact]
    public async Task SustainedCommits_KeepTheWalBounded()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 10_000);

        // One commit per event: 2,000 commits write well over 30 MB of WAL frames (each rewrites whole 16 KB pages).
        for (var i = 1; i <= 2_000; i++)
        {
            await trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None);
        }

        var wal = WalSize(trail);
        Assert.True(wal <= 6 * Megabyte, $"The WAL is {wal / Megabyte} MB after 2,000 commits; it should restart every 4 MB.");
        Assert.True(new FileInfo(trail.DatabasePath).Length > Megabyte / 2, "The events were not copied back into the database file.");
        Assert.Equal(2_000, await trail.Store.CountAsync(AuditTrailFixture.Chain, CancellationToken.None));
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task AReaderHoldingASnapshot_DelaysTheRestartOnly()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 10_000);
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(0), CancellationToken.None);

        // An auditor's long export: its snapshot pins the WAL, which must grow rather than refuse commits.
        long grown;
        using (var reader = new SqliteConnection($"Data Source={trail.DatabasePath};Pooling=False"))
        {
            reader.Open();
            using var transaction = reader.BeginTransaction(deferred: true);
            AuditTrailFixture.Execute(reader, "SELECT count(*) FROM audit_events");
            for (var i = 1; i <= 1_500; i++)
            {
                await trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None);
            }

            grown = WalSize(trail);
            Assert.True(grown > 16 * Megabyte, $"The WAL is {grown / Megabyte} MB; a reader's snapshot should have kept it from restarting.");
        }

        // Once the reader is gone, the next commits copy the WAL back, restart it and trim it to 16 MB at most.
        for (var i = 1_501; i <= 1_600; i++)
        {
            await trail.Writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None);
        }

        var after = WalSize(trail);
        Assert.True(after <= 16 * Megabyte && after < grown, $"The WAL is {after / Megabyte} MB after the reader left (was {grown / Megabyte} MB).");
        Assert.Equal(1_601, await trail.Store.CountAsync(AuditTrailFixture.Chain, CancellationToken.None));
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    private static long WalSize(AuditTrailFixture trail) => new FileInfo(trail.DatabasePath + "-wal").Length;
}
