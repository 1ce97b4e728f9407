using System.Collections.Concurrent;

namespace Safeguard.Keys;

/// <summary>A store that lives as long as the process: for tests and for a verifier that never restarts its keys.</summary>
public sealed class InMemorySigningKeyStore : ISigningKeyStore
{
    private readonly ConcurrentDictionary<string, StoredSigningKey> _keys = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredSigningKey>> GetAllAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<StoredSigningKey>>([.. _keys.Values]);

    /// <inheritdoc />
    public Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_keys.TryAdd(key.KeyId, key))
        {
            throw new InvalidOperationException($"A signing key with id '{key.KeyId}' is already stored.");
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task UpdateAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_keys.ContainsKey(key.KeyId))
        {
            throw new InvalidOperationException($"No signing key with id '{key.KeyId}' is stored.");
        }

        _keys[key.KeyId] = key;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RemoveAsync(string keyId, CancellationToken cancellationToken)
    {
        _keys.TryRemove(keyId, out _);
        return Task.CompletedTask;
    }
}
