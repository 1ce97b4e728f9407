using Safeguard.Audit;
using Safeguard.Keys;

namespace Safeguard.Hosting;

/// <summary>
/// The data folder and every file and folder in it, named once for the server, the CLI and the tests:
/// <code>
/// DATA/appsettings.json       optional settings (read after the working directory's, before the environment)
/// DATA/kek                    the key-encryption key, 0600 (unless SAFEGUARD_KEK is set)
/// DATA/safeguard.db           SQLite state: clients, signing keys (sealed), revocations, replay caches
/// DATA/audit.db               SQLite audit trail (append-only)
/// DATA/audit-keys/            the audit key that signs checkpoints (sealed under the KEK)
/// DATA/audit-checkpoints/     checkpoints copied outside the database
/// DATA/tls/server.crt, .key   the self-signed development certificate (the key 0600)
/// </code>
/// On PostgreSQL the two databases live there instead; the rest stays in the folder.
/// </summary>
public sealed class SafeguardDataFolder
{
    /// <summary>The settings file's name, here and in the working directory.</summary>
    public const string SettingsFileName = "appsettings.json";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private SafeguardDataFolder(string root) => Root = root;

    /// <summary>The folder's full path.</summary>
    public string Root { get; }

    /// <summary>Optional settings for this installation.</summary>
    public string Settings => Path.Combine(Root, SettingsFileName);

    /// <summary>The key-encryption key file (the embedded default).</summary>
    public string KeyEncryptionKey => Path.Combine(Root, "kek");

    /// <summary>The SQLite state database.</summary>
    public string StateDatabase => Path.Combine(Root, "safeguard.db");

    /// <summary>The SQLite audit database.</summary>
    public string AuditDatabase => Path.Combine(Root, "audit.db");

    /// <summary>The audit signing keys.</summary>
    public string AuditKeys => Path.Combine(Root, "audit-keys");

    /// <summary>Where checkpoints are copied outside the database.</summary>
    public string AuditCheckpoints => Path.Combine(Root, "audit-checkpoints");

    /// <summary>The development certificate's folder.</summary>
    public string Tls => Path.Combine(Root, "tls");

    /// <summary>The development certificate (PEM), for clients to trust.</summary>
    public string TlsCertificate => Path.Combine(Tls, "server.crt");

    /// <summary>The development certificate's private key (PEM, 0600).</summary>
    public string TlsKey => Path.Combine(Tls, "server.key");

    /// <summary>The folder at <paramref name="path"/> (relative to the working directory); nothing is created.</summary>
    /// <param name="path">The folder.</param>
    /// <returns>The folder.</returns>
    public static SafeguardDataFolder At(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new SafeguardDataFolder(Path.GetFullPath(path, Directory.GetCurrentDirectory()));
    }

    /// <summary>Creates the folder if it does not exist, readable only by its owner (0700).</summary>
    /// <returns>This folder.</returns>
    public SafeguardDataFolder EnsureCreated()
    {
        if (!Directory.Exists(Root))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(Root);
            }
            else
            {
                Directory.CreateDirectory(Root, OwnerOnly);
            }
        }

        return this;
    }

    /// <summary>The key-encryption key: <c>SAFEGUARD_KEK</c> when set, else <see cref="KeyEncryptionKey"/> (created 0600 on first use).</summary>
    /// <returns>A protector over the KEK; dispose it to zero the key.</returns>
    /// <exception cref="KeyProtectionException">The KEK cannot be loaded safely.</exception>
    public AesGcmKeyProtector OpenKeyEncryptionKey() =>
        Environment.GetEnvironmentVariable(KeyEncryptionKeys.DefaultEnvironmentVariable) is { Length: > 0 }
            ? KeyEncryptionKeys.FromEnvironment()
            : KeyEncryptionKeys.LoadOrCreateFile(EnsureCreated().KeyEncryptionKey);

    /// <summary>The audit signing keys kept in <see cref="AuditKeys"/>.</summary>
    /// <param name="protector">The KEK.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The key set (load it before use; dispose it).</returns>
    public AuditSigningKeys OpenAuditKeys(IKeyProtector protector, TimeProvider timeProvider) =>
        new(new FileSigningKeyStore(AuditKeys), protector, timeProvider);

    /// <summary>The checkpoints copied to <see cref="AuditCheckpoints"/>.</summary>
    /// <returns>The checkpoints (their signatures are checked by the verifier).</returns>
    public IReadOnlyList<AuditCheckpoint> ReadExportedCheckpoints() => DirectoryCheckpointSink.ReadAll(AuditCheckpoints);

    /// <inheritdoc />
    public override string ToString() => Root;
}
