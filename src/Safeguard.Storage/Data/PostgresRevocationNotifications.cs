using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Safeguard.Tokens;

namespace Safeguard.Storage.Data;

/// <summary>
/// The revocation feed's push on PostgreSQL: one connection per node <c>LISTEN</c>s on
/// <see cref="Channel"/>, which triggers on the state tables <c>NOTIFY</c> when a transaction revokes a token, ends a
/// session, disables a user or client or revokes a key (migration <c>RevocationFeedNotify</c>; PostgreSQL delivers a
/// notification at commit, to every listener, on every node). A lost connection is reopened after a second, and
/// <see cref="WhenChanged"/> completes on every change of state so the feed reads what it may have missed. On SQLite (one
/// node) it never listens and the feed polls.
/// </summary>
public sealed partial class PostgresRevocationNotifications : IRevocationFeedNotifications, IDisposable
{
    /// <summary>The notification channel the triggers notify.</summary>
    public const string Channel = "safeguard_revocations";

    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(1);
    private readonly string? _connectionString;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ChangeSignal _changed = new();
    private Task? _loop;
    private volatile bool _listening;

    /// <summary>Creates the listener for <paramref name="database"/> (nothing is opened before the first <see cref="WhenChanged"/>).</summary>
    /// <param name="database">The database.</param>
    /// <param name="logger">Where a lost connection is logged.</param>
    public PostgresRevocationNotifications(SafeguardDatabase database, ILogger<PostgresRevocationNotifications>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _logger = logger ?? NullLogger<PostgresRevocationNotifications>.Instance;
        if (database.Provider == DatabaseProvider.PostgreSql)
        {
            // Its own connection, outside the pool; a keep-alive query every 10 s while it waits finds a dead server.
            _connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false, KeepAlive = 10, ApplicationName = "safeguard-revocation-feed" }.ConnectionString;
        }
    }

    /// <inheritdoc />
    public bool IsListening => _listening;

    /// <inheritdoc />
    public Task WhenChanged()
    {
        lock (_lock)
        {
            if (_connectionString is not null && !_stop.IsCancellationRequested)
            {
                _loop ??= Task.Run(ListenAsync);
            }

            return _changed.Next;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _stop.Cancel();
        }

        _loop?.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }

    private async Task ListenAsync()
    {
        var quiet = false;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var connection = new NpgsqlConnection(_connectionString);
                await using var _ = connection.ConfigureAwait(false);
                await connection.OpenAsync(_stop.Token).ConfigureAwait(false);
                connection.Notification += (_, _) => _changed.Pulse();
                using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
                {
                    await listen.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
                }

                _listening = true;
                quiet = false;
                LogListening(_logger);
                _changed.Pulse();
                while (true)
                {
                    await connection.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // any failure of the connection: the feed polls meanwhile, and the listener retries
            catch (Exception ex)
#pragma warning restore CA1031
            {
                var was = _listening;
                _listening = false;
                if (!quiet)
                {
                    // Once per outage, not once per retry.
                    LogLost(_logger, ex.GetType().Name);
                    quiet = true;
                }

                if (was)
                {
                    _changed.Pulse();
                }
            }

            try
            {
                await Task.Delay(Retry, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        _listening = false;
        _changed.Pulse();
    }

    [LoggerMessage(EventId = LogEvents.RevocationFeedListenLost, Level = LogLevel.Warning, Message = "The revocation feed is not receiving the database's pushes ({Error}); it polls every 500 ms and listens again in a second.")]
    private static partial void LogLost(ILogger logger, string error);

    [LoggerMessage(EventId = LogEvents.RevocationFeedListening, Level = LogLevel.Information, Message = "The revocation feed receives the database's pushes (PostgreSQL LISTEN).")]
    private static partial void LogListening(ILogger logger);
}
