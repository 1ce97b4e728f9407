using System.Globalization;
using System.Security.Cryptography;

namespace Safeguard.Keys;

/// <summary>
/// AES-256-GCM under a 256-bit key-encryption key held in memory. Blob layout (version 1):
/// <c>0x01 | KEK id (8 bytes) | nonce (12) | tag (16) | ciphertext</c>. The KEK id is the first 8 bytes of
/// SHA-256("safeguard-kek-id" || KEK): it names the KEK in errors and reveals nothing about it.
/// </summary>
public sealed class AesGcmKeyProtector : IKeyProtector, IDisposable
{
    /// <summary>The length of a key-encryption key, in bytes.</summary>
    public const int KeySize = 32;

    private const byte FormatVersion = 1;
    private const int KekIdSize = 8;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HeaderSize = 1 + KekIdSize + NonceSize + TagSize;

    private readonly AesGcm _aes;

    // One AesGcm holds one native cipher context: calls are serialized so nonces never cross between threads.
    private readonly Lock _lock = new();
    private readonly byte[] _kekId;
    private readonly byte[] _derivationKey;
    private volatile bool _disposed;

    /// <summary>Creates a protector over a 256-bit key-encryption key.</summary>
    /// <param name="keyEncryptionKey">Exactly 32 bytes. The protector keeps its own copy.</param>
    public AesGcmKeyProtector(ReadOnlySpan<byte> keyEncryptionKey)
    {
        if (keyEncryptionKey.Length != KeySize)
        {
            throw new KeyProtectionException(
                $"A key-encryption key must be exactly {KeySize} bytes (256 bits); this one is {keyEncryptionKey.Length} bytes.");
        }

        _aes = new AesGcm(keyEncryptionKey, TagSize);
        _kekId = ComputeKeyId(keyEncryptionKey);
        KeyEncryptionKeyId = Convert.ToHexStringLower(_kekId);
        _derivationKey = new byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, keyEncryptionKey, "safeguard-kek-derivation-v1"u8, _derivationKey);
    }

    /// <summary>
    /// A key for another purpose derived from the key-encryption key (HKDF-SHA-256, RFC 5869), so every node that
    /// shares the KEK derives the same key and nothing else needs distributing (for example DPoP nonces).
    /// </summary>
    /// <param name="purpose">A label naming the purpose; different labels give independent keys.</param>
    /// <param name="length">The key length in bytes (16 to 64).</param>
    /// <returns>The derived key; the caller zeroes it when done.</returns>
    public byte[] DeriveKey(string purpose, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 64);
        return HKDF.Expand(HashAlgorithmName.SHA256, _derivationKey, length, System.Text.Encoding.UTF8.GetBytes(purpose));
    }

    /// <inheritdoc />
    public string KeyEncryptionKeyId { get; }

    /// <inheritdoc />
    public byte[] Protect(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var blob = new byte[HeaderSize + plaintext.Length];
        blob[0] = FormatVersion;
        _kekId.CopyTo(blob.AsSpan(1, KekIdSize));
        var nonce = blob.AsSpan(1 + KekIdSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var tag = blob.AsSpan(1 + KekIdSize + NonceSize, TagSize);
        lock (_lock)
        {
            _aes.Encrypt(nonce, plaintext, blob.AsSpan(HeaderSize), tag, associatedData);
        }

        return blob;
    }

    /// <inheritdoc />
    public byte[] Unprotect(ReadOnlySpan<byte> protectedData, ReadOnlySpan<byte> associatedData)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (protectedData.Length < HeaderSize || protectedData[0] != FormatVersion)
        {
            throw new KeyProtectionException(
                "The protected key is not in a format this version of Safeguard reads (truncated or an unknown version byte).");
        }

        var storedKekId = protectedData.Slice(1, KekIdSize);
        if (!storedKekId.SequenceEqual(_kekId))
        {
            throw new KeyProtectionException(string.Create(
                CultureInfo.InvariantCulture,
                $"The protected key was encrypted under key-encryption key {Convert.ToHexStringLower(storedKekId)}, but the loaded key-encryption key is {KeyEncryptionKeyId}. Load the key-encryption key this data was created with."));
        }

        var nonce = protectedData.Slice(1 + KekIdSize, NonceSize);
        var tag = protectedData.Slice(1 + KekIdSize + NonceSize, TagSize);
        var ciphertext = protectedData[HeaderSize..];
        var plaintext = new byte[ciphertext.Length];
        try
        {
            lock (_lock)
            {
                _aes.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            }
        }
        catch (AuthenticationTagMismatchException ex)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new KeyProtectionException(
                "The protected key failed authentication: its stored bytes were altered, or it was moved to another key id or algorithm. Restore it from a backup; it was not used.",
                ex);
        }

        return plaintext;
    }

    /// <summary>Whether the protector was disposed: its key material is zeroed and it refuses every operation.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Zeroes the key material (the AES-GCM context frees its copy of the KEK; the derivation key is overwritten).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _aes.Dispose();
            CryptographicOperations.ZeroMemory(_derivationKey);
        }
    }

    private static byte[] ComputeKeyId(ReadOnlySpan<byte> kek)
    {
        ReadOnlySpan<byte> label = "safeguard-kek-id"u8;
        Span<byte> input = stackalloc byte[label.Length + KeySize];
        label.CopyTo(input);
        kek.CopyTo(input[label.Length..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        CryptographicOperations.ZeroMemory(input);
        return hash[..KekIdSize].ToArray();
    }
}
