using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Safeguard.Authorization;

/// <summary>Refresh-token values: 256 random bits, base64url; stored as their SHA-256.</summary>
public static class RefreshTokens
{
    /// <summary>A new token value and its stored hash.</summary>
    public static (string Value, string Hash) New()
    {
        var value = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (value, Hash(value));
    }

    /// <summary>The stored form of a presented token.</summary>
    public static string Hash(string value) => Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(value ?? throw new ArgumentNullException(nameof(value)))));

    /// <summary>A new family id (128 random bits).</summary>
    public static string NewFamily() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
}
