using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Safeguard.Server.Tests;

/// <summary>Hand-made compact JWS for tests: full control of header and payload, including the malformed cases.</summary>
internal static class Jws
{
    public static string Sign(ECDsa key, JsonObject header, JsonObject payload, HashAlgorithmName? hash = null)
    {
        var input = Segment(header) + "." + Segment(payload);
        var signature = key.SignData(Encoding.ASCII.GetBytes(input), hash ?? HashAlgorithmName.SHA256);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Signs raw header and payload JSON text (for members no serializer would write, such as a lone surrogate escape).</summary>
    public static string SignRaw(ECDsa key, string headerJson, string payloadJson)
    {
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(headerJson)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payloadJson));
        return input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    public static string Segment(JsonNode node) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(node.ToJsonString()));

    /// <summary>The public JWK of an EC P-256 key; with <paramref name="includePrivate"/> it (wrongly) carries d.</summary>
    public static JsonObject PublicJwk(ECDsa key, bool includePrivate = false)
    {
        var p = key.ExportParameters(includePrivate);
        var jwk = new JsonObject
        {
            ["kty"] = "EC",
            ["crv"] = "P-256",
            ["x"] = Base64Url.EncodeToString(p.Q.X),
            ["y"] = Base64Url.EncodeToString(p.Q.Y),
        };
        if (includePrivate)
        {
            jwk["d"] = Base64Url.EncodeToString(p.D);
        }

        return jwk;
    }

    public static string Thumbprint(ECDsa key)
    {
        var p = key.ExportParameters(false);
        return Keys.KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y);
    }

    public static string Jwks(ECDsa key, string kid) =>
        new JsonObject { ["keys"] = new JsonArray(Merge(PublicJwk(key), new JsonObject { ["kid"] = kid, ["alg"] = "ES256", ["use"] = "sig" })) }.ToJsonString();

    public static JsonElement Payload(string token)
    {
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[1]));
        return document.RootElement.Clone();
    }

    public static JsonElement Header(string token)
    {
        using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0]));
        return document.RootElement.Clone();
    }

    private static JsonObject Merge(JsonObject a, JsonObject b)
    {
        foreach (var (name, value) in b)
        {
            a[name] = value?.DeepClone();
        }

        return a;
    }

    /// <summary>The OAuth error code from a response body (the client library reports 401/503 bodies as HTTP errors).</summary>
    public static string? ErrorOf(Duende.IdentityModel.Client.ProtocolResponse response)
    {
        if (string.IsNullOrEmpty(response.Raw))
        {
            return response.Error;
        }

        try
        {
            using var document = JsonDocument.Parse(response.Raw);
            return document.RootElement.TryGetProperty("error", out var error) ? error.GetString() : response.Error;
        }
        catch (JsonException)
        {
            return response.Error;
        }
    }
}
