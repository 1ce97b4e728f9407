namespace Safeguard.Keys;

/// <summary>
/// Encrypts secrets at rest (164.312(a)(2)(iv)) under a key-encryption key (KEK). Implementations authenticate
/// the associated data, so a blob moved to another key id or algorithm fails to decrypt instead of decrypting
/// to a different key.
/// </summary>
public interface IKeyProtector
{
    /// <summary>A short, non-secret identifier of the key-encryption key, stored with each blob so a wrong KEK is named in the error.</summary>
    string KeyEncryptionKeyId { get; }

    /// <summary>Encrypts <paramref name="plaintext"/>, binding it to <paramref name="associatedData"/>.</summary>
    /// <param name="plaintext">The secret.</param>
    /// <param name="associatedData">Context the blob is bound to (for a signing key: its id and algorithm).</param>
    /// <returns>The protected blob.</returns>
    byte[] Protect(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData);

    /// <summary>Decrypts a blob made by <see cref="Protect"/> with the same associated data.</summary>
    /// <param name="protectedData">The protected blob.</param>
    /// <param name="associatedData">The same context given to <see cref="Protect"/>.</param>
    /// <returns>The secret.</returns>
    /// <exception cref="KeyProtectionException">The KEK is wrong, or the blob or its context was altered.</exception>
    byte[] Unprotect(ReadOnlySpan<byte> protectedData, ReadOnlySpan<byte> associatedData);
}
