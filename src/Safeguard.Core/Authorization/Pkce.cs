using System.Security.Cryptography;
using System.Text;

namespace Safeguard.Authorization;

/// <summary>PKCE (RFC 7636) with S256 only: <c>plain</c> and a missing challenge are refused (RFC 9700 section 2.1.1).</summary>
public static class Pkce
{
    /// <summary>Whether <paramref name="value"/> is a well-formed S256 challenge: 43 base64url characters (a SHA-256).</summary>
    public static bool IsChallenge(string? value) => value is { Length: 43 } && value.All(IsBase64Url);

    /// <summary>Whether <paramref name="value"/> is a well-formed verifier: 43 to 128 unreserved characters (RFC 7636 section 4.1).</summary>
    public static bool IsVerifier(string? value) => value is { Length: >= 43 and <= 128 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~');

    /// <summary>Whether <paramref name="verifier"/> hashes to <paramref name="challenge"/>, compared in constant time.</summary>
    public static bool Matches(string? verifier, string challenge)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        if (!IsVerifier(verifier))
        {
            return false;
        }

        var computed = System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier!)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(challenge));
    }

    private static bool IsBase64Url(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
}
