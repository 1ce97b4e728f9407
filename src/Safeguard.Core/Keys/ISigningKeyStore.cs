namespace Safeguard.Keys;

/// <summary>
/// Where signing keys are kept. Implementations store <see cref="StoredSigningKey"/> records as given: the
/// private key inside is already encrypted, and a store never sees it in clear.
/// </summary>
public interface ISigningKeyStore
{
    /// <summary>Every stored key, in any order.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The keys.</returns>
    Task<IReadOnlyList<StoredSigningKey>> GetAllAsync(CancellationToken cancellationToken);

    /// <summary>Adds a new key; a key id already present is an error.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the key is durable.</returns>
    Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken);

    /// <summary>Replaces the record of an existing key (its lifecycle timestamps change; its material never does).</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the change is durable.</returns>
    Task UpdateAsync(StoredSigningKey key, CancellationToken cancellationToken);

    /// <summary>Deletes a key that is past retention; deleting a missing key does nothing.</summary>
    /// <param name="keyId">The key id.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the key is gone.</returns>
    Task RemoveAsync(string keyId, CancellationToken cancellationToken);
}
