using Microsoft.Data.Sqlite;
using Safeguard.Storage.Audit;
using Safeguard.Storage.Data;

namespace Safeguard.Storage.Tests.Data;

/// <summary>
/// The kept SQLite connections of the refresh grant's read: a statement stays prepared across uses, every use sees
/// what other connections committed since (WAL: each statement its own read transaction), at most <c>keep</c> wait
/// idle, and the library's process-wide set-up is done once.
/// </summary>
public sealed class SqlitePreparedConnectionsTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "sg-prepared-" + Guid.NewGuid().ToString("N") + ".db");

    public SqlitePreparedConnectionsTests()
    {
        SqliteLibrary.EnsureConfigured();
        using var setup = Open();
        using var create = setup.CreateCommand();
        create.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO t VALUES ('a', 1);";
        create.ExecuteNonQuery();
    }

    [Fact]
    public void AKeptConnection_ReusesItsPreparedCommand_AndReadsWhatOthersCommittedSince()
    {
        using var kept = new SqlitePreparedConnections(ConnectionString, _ => { }, keep: 2);
        var first = kept.Rent();
        var command = first.Command("SELECT v FROM t WHERE k = @k", "k");
        command.Parameters[0].Value = "a";
        Assert.Equal(1L, command.ExecuteScalar());
        kept.Return(first);

        using (var writer = Open())
        using (var update = writer.CreateCommand())
        {
            update.CommandText = "UPDATE t SET v = 2 WHERE k = 'a'";
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var again = kept.Rent();
        Assert.Same(first, again);
        var same = again.Command("SELECT v FROM t WHERE k = @k", "k");
        Assert.Same(command, same);
        same.Parameters[0].Value = "a";
        Assert.Equal(2L, same.ExecuteScalar());
        kept.Return(again);
    }

    [Fact]
    public void AtMostKeepConnectionsWaitIdle_AndNoneAfterDisposal()
    {
        var kept = new SqlitePreparedConnections(ConnectionString, _ => { }, keep: 1);
        var a = kept.Rent();
        var b = kept.Rent();
        Assert.NotSame(a, b);
        kept.Return(a);
        kept.Return(b); // one already waits: b is closed
        Assert.Same(a, kept.Rent());
        using var c = kept.Rent();
        Assert.NotSame(b, c);
        kept.Return(a);
        kept.Dispose(); // closes the idle one (a)
        kept.Return(c); // after disposal: closed, not kept
        Assert.Throws<ObjectDisposedException>(() => kept.Rent());
        Assert.ThrowsAny<InvalidOperationException>(() => a.Command("SELECT 1")); // closed
    }

    [Fact]
    public void EachNewConnection_IsConfiguredOnce()
    {
        var configured = 0;
        using var kept = new SqlitePreparedConnections(ConnectionString, _ => configured++, keep: 4);
        var lease = kept.Rent();
        kept.Return(lease);
        kept.Return(kept.Rent());
        Assert.Equal(1, configured);
        var second = kept.Rent();
        var third = kept.Rent();
        Assert.Equal(2, configured);
        kept.Return(second);
        kept.Return(third);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }

    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false }.ToString();

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }
}
