using System.Text.Json;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Clients;

/// <summary>
/// A client's registered public keys (<c>private_key_jwt</c>), read from its JWKS document. The same reading serves
/// registration (every problem reported) and authentication (only usable keys kept).
/// </summary>
public static class ClientJwks
{
    /// <summary>The most keys a client may register: enough for a rotation overlap, few enough that a key search stays cheap.</summary>
    public const int MaxKeys = 16;

    /// <summary>The largest JWKS document accepted, in bytes.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>Reads a JWKS document: at most <see cref="MaxKeys"/> public EC or RSA signature keys.</summary>
    /// <param name="jwks">The document.</param>
    /// <param name="problems">Everything wrong with it (empty when every key is usable).</param>
    /// <returns>The usable keys; the caller disposes them.</returns>
    public static IReadOnlyList<JwkPublicKey> Read(string? jwks, out IReadOnlyList<string> problems)
    {
        var found = new List<string>();
        var keys = new List<JwkPublicKey>();
        problems = found;
        if (string.IsNullOrWhiteSpace(jwks) || jwks.Length > MaxLength)
        {
            found.Add($"the JWKS is empty or larger than {MaxLength} bytes");
            return keys;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(jwks, StrictJson.DocumentOptions);
        }
        catch (JsonException ex)
        {
            found.Add($"the JWKS is not JSON without duplicate members ({ex.Message})");
            return keys;
        }

        using (document)
        {
            if (!document.RootElement.TryGetProperty("keys", out var array) || array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                found.Add("the JWKS has no \"keys\" array with at least one key");
                return keys;
            }

            if (array.GetArrayLength() > MaxKeys)
            {
                found.Add($"the JWKS holds {array.GetArrayLength()} keys; at most {MaxKeys} are accepted");
                return keys;
            }

            var index = 0;
            foreach (var jwk in array.EnumerateArray())
            {
                var key = JwkPublicKey.FromJwk(jwk, out var problem);
                if (key is null)
                {
                    found.Add($"key {index}: {problem}");
                }
                else if (key.KeyId is { } kid && !KeyIds.IsWellFormed(kid))
                {
                    // An assertion naming this kid would be refused before its signature is checked (RFC 8725 section 3.10).
                    found.Add($"key {index}: its kid '{kid}' is not 1 to {KeyIds.MaxLength} base64url characters");
                    key.Dispose();
                }
                else
                {
                    keys.Add(key);
                }

                index++;
            }
        }

        return keys;
    }
}
