using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Safeguard.Keys;

/// <summary>Key ids: RFC 7638 JWK thumbprints, and the check every presented <c>kid</c> passes before any lookup.</summary>
public static class KeyIds
{
    /// <summary>The longest <c>kid</c> accepted. A SHA-256 thumbprint is 43 characters.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// Whether <paramref name="keyId"/> is 1 to <see cref="MaxLength"/> base64url characters. Anything else
    /// (<c>../../dev/null</c>, <c>' OR 1=1--</c>, control characters) is refused before it reaches a dictionary,
    /// a file name or a query (RFC 8725 section 3.10).
    /// </summary>
    /// <param name="keyId">A presented key id.</param>
    /// <returns>True if well-formed.</returns>
    public static bool IsWellFormed(ReadOnlySpan<char> keyId)
    {
        if (keyId.IsEmpty || keyId.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in keyId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The RFC 7638 thumbprint (SHA-256, base64url) of an EC public key.</summary>
    /// <param name="curve">The JOSE curve name, <c>P-256</c> or <c>P-384</c>.</param>
    /// <param name="x">The x coordinate, full length.</param>
    /// <param name="y">The y coordinate, full length.</param>
    /// <returns>The thumbprint.</returns>
    public static string EcThumbprint(string curve, ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
        var xText = Base64Url.EncodeToString(x);
        var yText = Base64Url.EncodeToString(y);
        return Thumbprint(writer =>
        {
            writer.WriteString("crv", curve);
            writer.WriteString("kty", "EC");
            writer.WriteString("x", xText);
            writer.WriteString("y", yText);
        });
    }

    /// <summary>The RFC 7638 thumbprint (SHA-256, base64url) of an RSA public key.</summary>
    /// <param name="exponent">The public exponent, big-endian without leading zeros.</param>
    /// <param name="modulus">The modulus, big-endian without leading zeros.</param>
    /// <returns>The thumbprint.</returns>
    public static string RsaThumbprint(ReadOnlySpan<byte> exponent, ReadOnlySpan<byte> modulus)
    {
        var e = Base64Url.EncodeToString(TrimLeadingZeros(exponent));
        var n = Base64Url.EncodeToString(TrimLeadingZeros(modulus));
        return Thumbprint(writer =>
        {
            writer.WriteString("e", e);
            writer.WriteString("kty", "RSA");
            writer.WriteString("n", n);
        });
    }

    internal static ReadOnlySpan<byte> TrimLeadingZeros(ReadOnlySpan<byte> value)
    {
        var i = 0;
        while (i < value.Length - 1 && value[i] == 0)
        {
            i++;
        }

        return value[i..];
    }

    private static string Thumbprint(Action<Utf8JsonWriter> writeMembers)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writeMembers(writer);
            writer.WriteEndObject();
        }

        return Base64Url.EncodeToString(SHA256.HashData(buffer.WrittenSpan));
    }
}
