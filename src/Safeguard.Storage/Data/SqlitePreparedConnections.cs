using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Safeguard.Storage.Data;

/// <summary>
/// Open SQLite connections kept for the statements a hot path runs on every request (the refresh grant's read), each
/// holding its commands prepared. <c>Microsoft.Data.Sqlite</c> prepares a statement per command, and a command lives
/// only as long as the connection object it was made on, so a statement run on a newly opened connection is parsed
/// again every time: for the refresh grant's join that parse (the tokenizer, the parser, name resolution and their
/// allocations) cost more than running it. A connection serves one caller at a time; at most <c>keep</c> wait idle,
/// and one that failed is closed rather than kept.
/// </summary>
internal sealed class SqlitePreparedConnections(string connectionString, Action<SqliteConnection> configure, int keep) : IDisposable
{
    private readonly ConcurrentStack<Lease> _idle = new();
    private int _idleCount;
    private volatile bool _disposed;

    /// <summary>An idle connection, or a new one.</summary>
    /// <returns>The lease: give it back with <see cref="Return"/> when the statement is done, or dispose it after a failure.</returns>
    public Lease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryPop(out var lease))
        {
            Interlocked.Decrement(ref _idleCount);
            return lease;
        }

        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            configure(connection);
            return new Lease(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Keeps a connection whose statement completed, or closes it when enough wait already.</summary>
    /// <param name="lease">The lease.</param>
    public void Return(Lease lease)
    {
        // A counter, not the collection's Count: this runs on every request.
        if (_disposed || Interlocked.Increment(ref _idleCount) > keep)
        {
            if (!_disposed)
            {
                Interlocked.Decrement(ref _idleCount);
            }

            lease.Dispose();
            return;
        }

        _idle.Push(lease);
        if (_disposed && _idle.TryPop(out var late))
        {
            late.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryPop(out var lease))
        {
            lease.Dispose();
        }
    }

    /// <summary>One open connection and its prepared commands, by SQL text.</summary>
    /// <param name="connection">The connection.</param>
    internal sealed class Lease(SqliteConnection connection) : IDisposable
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        /// <summary>The connection (for a transaction: set each command's <c>Transaction</c> to it).</summary>
        public SqliteConnection Connection => connection;

        /// <summary>The command for <paramref name="sql"/>, its parameters named <paramref name="parameters"/> in order (set their values before running it).</summary>
        /// <param name="sql">The statement.</param>
        /// <param name="parameters">Its parameter names, without the <c>@</c>.</param>
        /// <returns>The command, prepared once and reused.</returns>
        public SqliteCommand Command(string sql, params string[] parameters)
        {
            if (!_commands.TryGetValue(sql, out var command))
            {
                command = connection.CreateCommand();
                command.CommandText = sql;
                foreach (var name in parameters)
                {
                    command.Parameters.Add(new SqliteParameter("@" + name, null));
                }

                command.Prepare();
                _commands.Add(sql, command);
            }

            return command;
        }

        /// <inheritdoc />
        public void Dispose()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            connection.Dispose();
        }
    }
}
