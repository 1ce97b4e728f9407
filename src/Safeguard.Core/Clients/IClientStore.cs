namespace Safeguard.Clients;

/// <summary>Where clients are registered.</summary>
public interface IClientStore
{
    /// <summary>One client, or null.</summary>
    /// <param name="clientId">The client id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The client.</returns>
    Task<Client?> FindAsync(string clientId, CancellationToken cancellationToken);

    /// <summary>Every client, by id.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The clients.</returns>
    Task<IReadOnlyList<Client>> GetAllAsync(CancellationToken cancellationToken);

    /// <summary>Registers a client; an id already taken (even by a disabled client) is an error.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the client is durable.</returns>
    /// <exception cref="InvalidOperationException">The id is taken.</exception>
    Task AddAsync(Client client, CancellationToken cancellationToken);

    /// <summary>Replaces an existing client's record.</summary>
    /// <param name="client">The client.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the change is durable.</returns>
    /// <exception cref="InvalidOperationException">No such client.</exception>
    Task UpdateAsync(Client client, CancellationToken cancellationToken);
}
