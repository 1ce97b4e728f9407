using System.Security.Cryptography;
using System.Text;

namespace Safeguard.Keys;

/// <summary>
/// Loads the key-encryption key (KEK) that protects private keys at rest. Two sources ship in the core: a file
/// (the embedded default, created with mode 0600 and refused if group or others can read it) and an environment
/// variable (base64 of 32 bytes). Production sites can plug in an HSM through <see cref="IKeyProtector"/>.
/// </summary>
public static class KeyEncryptionKeys
{
    /// <summary>The environment variable <see cref="FromEnvironment"/> reads by default.</summary>
    public const string DefaultEnvironmentVariable = "SAFEGUARD_KEK";

    private const UnixFileMode GroupOrOtherAccess =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Loads the KEK from <paramref name="path"/>, creating it (256 random bits, base64, mode 0600) if it does not
    /// exist. An existing file that group or others may access is refused, as is one that does not hold 32 bytes.
    /// </summary>
    /// <param name="path">The KEK file.</param>
    /// <returns>A protector over the KEK.</returns>
    /// <exception cref="KeyProtectionException">The file is readable by others or malformed.</exception>
    public static AesGcmKeyProtector LoadOrCreateFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            TryCreateFile(path);
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOtherAccess) != 0)
            {
                throw new KeyProtectionException(
                    $"The key-encryption key file '{path}' can be read or written by group or others (mode {FormatMode(mode)}). Run 'chmod 600 {path}' and make sure only Safeguard's user owns it.");
            }
        }

        var text = File.ReadAllText(path, Encoding.ASCII);
        return FromBase64(text, $"the key-encryption key file '{path}'");
    }

    /// <summary>Loads the KEK from an environment variable holding base64 of 32 bytes.</summary>
    /// <param name="variable">The variable's name; <see cref="DefaultEnvironmentVariable"/> by default.</param>
    /// <returns>A protector over the KEK.</returns>
    /// <exception cref="KeyProtectionException">The variable is unset or does not hold 32 bytes of base64.</exception>
    public static AesGcmKeyProtector FromEnvironment(string variable = DefaultEnvironmentVariable)
    {
        ArgumentException.ThrowIfNullOrEmpty(variable);
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new KeyProtectionException(
                $"The environment variable {variable} is not set. Set it to the base64 of 32 random bytes (for example: openssl rand -base64 32).");
        }

        return FromBase64(value, $"the environment variable {variable}");
    }

    /// <summary>Creates a new random KEK as base64 text, for an operator to store in a secret manager.</summary>
    /// <returns>Base64 of 32 random bytes.</returns>
    public static string GenerateBase64()
    {
        Span<byte> key = stackalloc byte[AesGcmKeyProtector.KeySize];
        RandomNumberGenerator.Fill(key);
        var text = Convert.ToBase64String(key);
        CryptographicOperations.ZeroMemory(key);
        return text;
    }

    private static void TryCreateFile(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(path, options);
            var bytes = Encoding.ASCII.GetBytes(GenerateBase64() + "\n");
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
            CryptographicOperations.ZeroMemory(bytes);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it between our check and our create: use theirs.
        }
    }

    private static AesGcmKeyProtector FromBase64(string text, string source)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException ex)
        {
            throw new KeyProtectionException($"{Capitalize(source)} is not valid base64. It must hold the base64 of 32 random bytes.", ex);
        }

        try
        {
            if (key.Length != AesGcmKeyProtector.KeySize)
            {
                throw new KeyProtectionException(
                    $"{Capitalize(source)} holds {key.Length} bytes; a key-encryption key is exactly {AesGcmKeyProtector.KeySize} bytes (256 bits).");
            }

            return new AesGcmKeyProtector(key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static string Capitalize(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    private static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
