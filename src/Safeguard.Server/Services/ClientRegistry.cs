using System.Collections.Concurrent;
using Safeguard.Clients;

namespace Safeguard.Server.Services;

/// <summary>
/// The clients this node knows, held in memory so the token endpoint does not query the database per request.
/// Changes (new clients, rotated secrets, disabled clients) are pulled every <c>ClientRefreshInterval</c>; a client
/// id not in memory is looked up in the store once before it is called unknown.
/// </summary>
internal sealed partial class ClientRegistry(IClientStore store, TimeProvider time, ILogger<ClientRegistry> logger)
{
    private static readonly TimeSpan ChangeMargin = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, Client> _clients = new(StringComparer.Ordinal);
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;

    /// <summary>Loads every client.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        foreach (var client in await store.GetAllAsync(cancellationToken).ConfigureAwait(false))
        {
            _clients[client.ClientId] = client;
        }

        _lastRefresh = started;
    }

    /// <summary>Pulls clients changed since the last refresh (with a margin for clock differences between nodes).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var changed = await store.GetChangedSinceAsync(_lastRefresh - ChangeMargin, cancellationToken).ConfigureAwait(false);
        foreach (var client in changed)
        {
            _clients[client.ClientId] = client;
        }

        _lastRefresh = started;
    }

    /// <summary>The client with this id, or null. Ids that are not well-formed are never looked up.</summary>
    public async ValueTask<Client?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        if (!ClientIds.IsWellFormed(clientId))
        {
            return null;
        }

        if (_clients.TryGetValue(clientId, out var client))
        {
            return client;
        }

        client = await store.FindAsync(clientId, cancellationToken).ConfigureAwait(false);
        if (client is not null)
        {
            _clients[clientId] = client;
            LogLoaded(logger, clientId);
        }

        return client;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Client {ClientId} loaded on first use.")]
    private static partial void LogLoaded(ILogger logger, string clientId);
}
