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

    /// <summary>Disables a client in one statement (no read-modify-write, so a concurrent change is not undone).</summary>
    /// <param name="clientId">The client id.</param>
    /// <param name="at">The change time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if the client exists.</returns>
    Task<bool> DisableAsync(string clientId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a <c>client_secret_basic</c> client's secret hash in one statement, only if the client is unchanged
    /// since <paramref name="seenUpdatedAt"/> (so of two concurrent rotations exactly one wins).
    /// </summary>
    /// <param name="clientId">The client id.</param>
    /// <param name="secretHash">The new secret's hash.</param>
    /// <param name="seenUpdatedAt">The client's last change as the caller read it.</param>
    /// <param name="at">The change time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if the secret was replaced.</returns>
    Task<bool> SetSecretHashAsync(string clientId, byte[] secretHash, DateTimeOffset seenUpdatedAt, DateTimeOffset at, CancellationToken cancellationToken);
}
