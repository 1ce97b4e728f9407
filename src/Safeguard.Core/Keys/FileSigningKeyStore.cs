using System.Text.Json;
using System.Text.Json.Serialization;

namespace Safeguard.Keys;

/// <summary>
/// A directory with one JSON file per key (<c>{kid}.json</c>, mode 0600), each written atomically (temporary
/// file, flush, rename). Private keys inside are encrypted; the directory is for a single node.
/// </summary>
public sealed class FileSigningKeyStore : ISigningKeyStore
{
    private readonly string _directory;

    /// <summary>Creates a store over <paramref name="directory"/>, creating it (mode 0700) if needed.</summary>
    /// <param name="directory">The key directory.</param>
    /// <exception cref="KeyProtectionException">An existing directory is open to group or others.</exception>
    public FileSigningKeyStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(_directory);
        }
        else
        {
            Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            // An existing directory keeps its mode: one that others can enter or list is refused, like a loose KEK.
            var mode = File.GetUnixFileMode(_directory);
            const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & others) != 0)
            {
                throw new KeyProtectionException(
                    $"The key directory '{_directory}' can be read or entered by group or others. Run 'chmod 700 {_directory}'.");
            }
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredSigningKey>> GetAllAsync(CancellationToken cancellationToken)
    {
        var keys = new List<StoredSigningKey>();
        foreach (var path in Directory.EnumerateFiles(_directory, "*.json"))
        {
            var stream = File.OpenRead(path);
            await using var streamScope = stream.ConfigureAwait(false);
            var key = await JsonSerializer.DeserializeAsync(stream, KeyStoreJsonContext.Default.StoredSigningKey, cancellationToken)
                .ConfigureAwait(false);
            if (key is null || !string.Equals(Path.GetFileNameWithoutExtension(path), key.KeyId, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"The key file '{path}' is empty or does not hold the key its name says.");
            }

            keys.Add(key);
        }

        return keys;
    }

    /// <inheritdoc />
    public Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (File.Exists(PathFor(key.KeyId)))
        {
            throw new InvalidOperationException($"A signing key with id '{key.KeyId}' is already stored.");
        }

        return WriteAsync(key, cancellationToken);
    }

    /// <inheritdoc />
    public Task UpdateAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!File.Exists(PathFor(key.KeyId)))
        {
            throw new InvalidOperationException($"No signing key with id '{key.KeyId}' is stored.");
        }

        return WriteAsync(key, cancellationToken);
    }

    /// <inheritdoc />
    public Task RemoveAsync(string keyId, CancellationToken cancellationToken)
    {
        File.Delete(PathFor(keyId));
        return Task.CompletedTask;
    }

    private async Task WriteAsync(StoredSigningKey key, CancellationToken cancellationToken)
    {
        var path = PathFor(key.KeyId);
        // A fresh, unpredictable temporary name created exclusively: no symlink or stale file is ever followed.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(temporary, options);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, key, KeyStoreJsonContext.Default.StoredSigningKey, cancellationToken)
                .ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private string PathFor(string keyId)
    {
        // Key ids are RFC 7638 thumbprints: base64url only, so they cannot name a path outside the directory.
        if (!KeyIds.IsWellFormed(keyId))
        {
            throw new ArgumentException($"'{keyId}' is not a well-formed key id.", nameof(keyId));
        }

        return Path.Combine(_directory, keyId + ".json");
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StoredSigningKey))]
internal sealed partial class KeyStoreJsonContext : JsonSerializerContext;
