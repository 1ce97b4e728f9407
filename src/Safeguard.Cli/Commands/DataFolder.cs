using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Storage.Audit;

namespace Safeguard.Cli.Commands;

/// <summary>
/// The embedded default's data folder: <c>kek</c> (unless <c>SAFEGUARD_KEK</c> is set), <c>safeguard.db</c> (SQLite state),
/// <c>audit.db</c> (SQLite audit trail), <c>audit-keys/</c> and <c>audit-checkpoints/</c>.
/// </summary>
internal sealed class DataFolder : IDisposable
{
    private DataFolder(string path, AesGcmKeyProtector protector)
    {
        Path = path;
        Protector = protector;
    }

    public string Path { get; }

    public AesGcmKeyProtector Protector { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, Storage.Data.SafeguardDatabase.SqliteAuditFileName);

    public string AuditKeysPath => System.IO.Path.Combine(Path, "audit-keys");

    public string CheckpointsPath => System.IO.Path.Combine(Path, "audit-checkpoints");

    /// <summary>Opens the folder, loading (or creating, 0600) its key-encryption key.</summary>
    /// <exception cref="KeyProtectionException">The KEK cannot be loaded safely.</exception>
    public static DataFolder Open(string path)
    {
        Directory.CreateDirectory(path);
        var protector = KeyEncryptionKeys.ForDataFolder(path);
        return new DataFolder(path, protector);
    }

    public AuditSigningKeys AuditKeys() => new(new FileSigningKeyStore(AuditKeysPath), Protector, TimeProvider.System);

    public static AuditWriter AuditWriter(SqliteAuditStore store, AuditSigningKeys keys, DirectoryCheckpointSink sink, AuditOptions options) =>
        new(store, keys, sink, Options.Create(options), TimeProvider.System, NullLogger<AuditWriter>.Instance);

    public void Dispose() => Protector.Dispose();
}
