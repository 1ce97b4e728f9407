using Safeguard.Clients;

namespace Safeguard.Server.ClientAuthentication;

/// <summary>
/// The clients this node knows, held in memory so the token endpoint does not query the database per request.
/// The whole table is reloaded every <c>ClientRefreshInterval</c> (it is small), so a client added, a disabled client
/// or a rotated secret takes effect on every node within that interval, whatever the clocks of the machines that
/// changed it. An id not in memory is unknown until the next reload: it is never looked up on its own, so a made-up
/// id costs no query and takes exactly as long to refuse as a known one (no timing tells which ids exist).
/// </summary>
internal sealed class ClientRegistry(IClientStore store)
{
    private volatile Dictionary<string, Client> _clients = new(StringComparer.Ordinal);

    /// <summary>Loads every client.</summary>
    public Task LoadAsync(CancellationToken cancellationToken) => RefreshAsync(cancellationToken);

    /// <summary>Replaces the in-memory set with the store's current contents.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, Client>(StringComparer.Ordinal);
        foreach (var client in await store.GetAllAsync(cancellationToken).ConfigureAwait(false))
        {
            loaded[client.ClientId] = client;
        }

        _clients = loaded;
    }

    /// <summary>The client with this id as of the last reload, or null.</summary>
    public Client? Find(string clientId) => _clients.GetValueOrDefault(clientId);
}
