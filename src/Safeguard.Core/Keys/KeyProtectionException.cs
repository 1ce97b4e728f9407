namespace Safeguard.Keys;

/// <summary>
/// A protected secret could not be decrypted or a key-encryption key could not be loaded. The message says what
/// to check; it never contains key material.
/// </summary>
public sealed class KeyProtectionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KeyProtectionException()
    {
    }

    /// <summary>Creates the exception with a message that says what went wrong and what to change.</summary>
    /// <param name="message">The message.</param>
    public KeyProtectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public KeyProtectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
