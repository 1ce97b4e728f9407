using Microsoft.EntityFrameworkCore;
using Safeguard.Hosting;
using Safeguard.Storage.Data;

namespace Safeguard.Storage.Tests.Data;

/// <summary>The committed migrations match the model on both providers, and the SQLite schema they build works.</summary>
public sealed class MigrationTests
{
    [Fact]
    public void SqliteMigrations_MatchTheModel()
    {
        using var context = new SqliteDesignTimeFactory().CreateDbContext([]);
        Assert.False(context.Database.HasPendingModelChanges(), "the model changed without a migration: run dotnet ef migrations add (docs/server.md)");
    }

    [Fact]
    public void PostgresMigrations_MatchTheModel()
    {
        using var context = new PostgresDesignTimeFactory().CreateDbContext([]);
        Assert.False(context.Database.HasPendingModelChanges(), "the model changed without a migration: run dotnet ef migrations add (docs/server.md)");
    }

    [Fact]
    public async Task Sqlite_MigrateTwice_ThenTheStoresWork()
    {
        var folder = Directory.CreateTempSubdirectory("sg-migrate-").FullName;
        try
        {
            using var database = SafeguardDatabase.Open(new DatabaseOptions(), SafeguardDataFolder.At(folder));
            await database.MigrateAsync(CancellationToken.None);
            await database.MigrateAsync(CancellationToken.None);

            Assert.Empty(await database.GetPendingMigrationsAsync(CancellationToken.None));
            var replay = new EfReplayCache(database);
            var expires = TimeProvider.System.GetUtcNow().AddMinutes(1);
            Assert.True(await replay.TryAddAsync("dpop", "jkt:jti-1", expires, CancellationToken.None));
            Assert.False(await replay.TryAddAsync("dpop", "jkt:jti-1", expires, CancellationToken.None));
            Assert.True(await replay.TryAddAsync("client_assertion", "jkt:jti-1", expires, CancellationToken.None));
            Assert.True(File.Exists(SafeguardDataFolder.At(folder).StateDatabase));
            Assert.True(File.Exists(SafeguardDataFolder.At(folder).AuditDatabase));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
