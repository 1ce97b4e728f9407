using System.Collections.Concurrent;
using Safeguard.Clients;

namespace Safeguard.Server.ClientAuthentication;

/// <summary>
/// The clients this node knows, held in memory so the token endpoint does not query the database per request.
/// The whole table is reloaded every <c>ClientRefreshInterval</c> (it is small), so a disabled client or a rotated
/// secret takes effect on every node within that interval, whatever the clocks of the machines that changed it.
/// A client id not in memory is looked up once; ids found missing are remembered until the next reload, so a flood
/// of made-up ids costs no database queries.
/// </summary>
internal sealed partial class ClientRegistry(IClientStore store, ILogger<ClientRegistry> logger)
{
    private const int MaxRememberedMisses = 10_000;
    private volatile ConcurrentDictionary<string, Client> _clients = new(StringComparer.Ordinal);
    private volatile ConcurrentDictionary<string, byte> _misses = new(StringComparer.Ordinal);

    /// <summary>Loads every client.</summary>
    public Task LoadAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    /// <summary>Replaces the in-memory set with the store's current contents.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var loaded = new ConcurrentDictionary<string, Client>(StringComparer.Ordinal);
        foreach (var client in await store.GetAllAsync(cancellationToken).ConfigureAwait(false))
        {
            loaded[client.ClientId] = client;
        }

        _clients = loaded;
        _misses = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
    }

    /// <summary>The client with this id, or null. Ids that are not well-formed are never looked up.</summary>
    public async ValueTask<Client?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        if (!ClientIds.IsWellFormed(clientId))
        {
            return null;
        }

        var clients = _clients;
        if (clients.TryGetValue(clientId, out var client))
        {
            return client;
        }

        var misses = _misses;
        if (misses.ContainsKey(clientId))
        {
            return null;
        }

        client = await store.FindAsync(clientId, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            if (misses.Count < MaxRememberedMisses)
            {
                misses.TryAdd(clientId, 0);
            }

            return null;
        }

        // A reload that ran meanwhile holds the same or a newer record; keep it.
        client = clients.GetOrAdd(clientId, client);
        LogLoaded(logger, clientId);
        return client;
    }

    [LoggerMessage(EventId = LogEvents.ClientLoadedOnFirstUse, Level = LogLevel.Information, Message = "Client {ClientId} loaded on first use.")]
    private static partial void LogLoaded(ILogger logger, string clientId);
}
