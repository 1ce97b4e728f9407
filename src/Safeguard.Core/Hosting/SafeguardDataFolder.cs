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
/// DATA/audit-checkpoints/     checkpoints copied outside the database (unless Safeguard:Audit:CheckpointDirectory names another place)
/// DATA/tls/server.crt, .key   the self-signed development certificate (the key 0600)
/// DATA/node-id                this folder's random id, which makes the default audit chain id unique per folder
/// DATA/audit.db.CHAIN.lock    held (flock) by the writer of a chain in audit.db
/// </code>
/// On PostgreSQL the two databases live there instead; the rest stays in the folder.
/// </summary>
public sealed partial class SafeguardDataFolder
{
    /// <summary>The settings file's name, here and in the working directory.</summary>
    public const string SettingsFileName = "appsettings.json";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

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

    /// <summary>This folder's random id (12 hex digits), written on first use.</summary>
    public string NodeIdFile => Path.Combine(Root, "node-id");

    /// <summary>The first administrator's one-time enrolment link, while no one can sign in (readable by the owner only).</summary>
    public string FirstAdministratorLink => Path.Combine(Root, "first-administrator-link.txt");

    /// <summary>The folder at <paramref name="path"/> (relative to the working directory); nothing is created.</summary>
    /// <param name="path">The folder.</param>
    /// <returns>The folder.</returns>
    public static SafeguardDataFolder At(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new SafeguardDataFolder(Path.GetFullPath(path, Directory.GetCurrentDirectory()));
    }

    /// <summary>
    /// Creates the folder if it does not exist, open to its owner only (0700), and makes sure it stays so: a folder that
    /// group or others may open is refused (it holds the audit trail, with subjects, addresses and patient ids, and the
    /// key-encryption key), and anything inside that group or others may read is made the owner's alone.
    /// </summary>
    /// <returns>This folder.</returns>
    /// <exception cref="InsecureDataFolderException">The folder exists and group or others may open it.</exception>
    public SafeguardDataFolder EnsureCreated()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(Root);
            return this;
        }

        if (!Directory.Exists(Root))
        {
            Directory.CreateDirectory(Root, OwnerOnly);
            return this;
        }

        var mode = File.GetUnixFileMode(Root);
        if ((mode & GroupOrOther) != 0)
        {
            throw new InsecureDataFolderException(
                $"The data folder '{Root}' can be opened by group or others (mode 0{Convert.ToString((int)mode & 0x1FF, 8)}). Run 'chmod 700 {Root}' (and make sure only Safeguard's user owns it), then start again.");
        }

        RestrictContents();
        return this;
    }

    /// <summary>
    /// Makes every file the process creates from now on its owner's alone (umask 077), so the databases SQLite creates
    /// (and their write-ahead logs, recreated as they are checkpointed) are 0600 from their first byte. Hosts call it
    /// before they open anything.
    /// </summary>
    public static void RestrictNewFiles()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Umask(0x3F); // 077 octal
        }
    }

    /// <summary>
    /// Takes group and other access away from everything in the folder (files written before the umask, older installs),
    /// except the key-encryption key: one found exposed is refused by its loader, not quietly mended, since it may
    /// have been read.
    /// </summary>
    public void RestrictContents()
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(Root))
        {
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(Root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        {
            if (string.Equals(entry, KeyEncryptionKey, StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                var mode = File.GetUnixFileMode(entry);
                if ((mode & GroupOrOther) != 0)
                {
                    File.SetUnixFileMode(entry, mode & ~GroupOrOther);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Gone since it was listed (a write-ahead log checkpointed away, another process's temporary file).
            }
        }
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

    /// <summary>
    /// The audit chain id a node on this folder writes when <c>Safeguard:Audit:ChainId</c> is not set: the machine name
    /// (made safe, at most 40 characters) and this folder's id, for example <c>web01-3f9a0c1d2e4b</c>. Two servers on one
    /// host, or two containers given one host name, then never share a chain on a shared database, as long as each has
    /// its own folder. The id is created once (atomically, so two processes starting together agree on it) and kept.
    /// </summary>
    /// <returns>The chain id.</returns>
    /// <exception cref="InvalidOperationException">The id file exists but does not hold an id.</exception>
    public string DefaultAuditChain()
    {
        var machine = new AuditOptions().ResolveChainId();
        return $"{machine[..Math.Min(machine.Length, 40)]}-{ReadOrCreateNodeId()}";
    }

    private string ReadOrCreateNodeId()
    {
        EnsureCreated();
        if (!File.Exists(NodeIdFile))
        {
            try
            {
                // O_EXCL: of processes starting together, exactly one creates the file; the others read theirs.
                using var created = new FileStream(NodeIdFile, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                created.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)) + "\n"));
                created.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(NodeIdFile))
            {
                // Another process created it first: use theirs.
            }
        }

        // The creator writes 13 bytes right after creating the file; a reader that comes in between waits for them.
        var id = string.Empty;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            id = File.ReadAllText(NodeIdFile).Trim();
            if (id.Length != 0)
            {
                break;
            }

            Thread.Sleep(10);
        }

        return id.Length == 12 && id.All(char.IsAsciiHexDigitLower)
            ? id
            : throw new InvalidOperationException($"'{NodeIdFile}' does not hold a node id (12 lowercase hex digits). Restore it from a backup, or delete it to start a new audit chain for this folder.");
    }

    /// <inheritdoc />
    public override string ToString() => Root;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}

/// <summary>The data folder is open to others than its owner; Safeguard refuses to use it until it is not.</summary>
public sealed class InsecureDataFolderException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public InsecureDataFolderException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and the command that mends it.</param>
    public InsecureDataFolderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public InsecureDataFolderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
