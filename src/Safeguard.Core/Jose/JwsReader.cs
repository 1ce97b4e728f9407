using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Safeguard.Keys;

namespace Safeguard.Jose;

/// <summary>
/// The header values a use decides on. Only these are read; no header value ever selects key material except the
/// <c>jwk</c> of a DPoP proof, whose policy requires it.
/// </summary>
/// <param name="Algorithm"><c>alg</c>.</param>
/// <param name="KeyId"><c>kid</c>, well-formed when present (the reader refuses anything else).</param>
/// <param name="Type"><c>typ</c>.</param>
/// <param name="EmbeddedKey">The <c>jwk</c> object, when the policy requires one; otherwise <c>default</c>.</param>
internal readonly record struct JwsHeader(string? Algorithm, string? KeyId, string? Type, JsonElement EmbeddedKey);

/// <summary>Where the parts of a compact JWS are: the signing input is the token's first <see cref="SigningInputLength"/> characters.</summary>
/// <param name="SigningInputLength">The length of <c>header '.' payload</c>.</param>
/// <param name="Signature">The signature segment's range in the token.</param>
internal readonly record struct JwsSegments(int SigningInputLength, Range Signature);

/// <summary>A JWS payload reader: the use's claims, read from the payload's UTF-8 under <see cref="StrictJson"/>'s rules.</summary>
/// <typeparam name="TSelf">The payload type.</typeparam>
internal interface IJwsPayload<TSelf>
    where TSelf : IJwsPayload<TSelf>
{
    /// <summary>Reads a payload; never throws.</summary>
    /// <param name="json">The decoded payload (valid UTF-8, no byte-order mark).</param>
    /// <param name="payload">The claims.</param>
    /// <returns><see cref="JwsError.None"/>, or why the payload is refused.</returns>
    static abstract JwsError Read(ReadOnlySpan<byte> json, out TSelf payload);
}

/// <summary>A payload kept as a strictly validated <see cref="JsonDocument"/>, for uses that are not on a hot path. Dispose it.</summary>
internal readonly struct JsonPayload : IJwsPayload<JsonPayload>, IDisposable
{
    private JsonPayload(JsonDocument document) => Document = document;

    /// <summary>The payload; its root is an object.</summary>
    public JsonDocument Document { get; }

    /// <summary>The root object.</summary>
    public JsonElement Root => Document.RootElement;

    /// <inheritdoc />
    public static JwsError Read(ReadOnlySpan<byte> json, out JsonPayload payload)
    {
        payload = default;
        var error = StrictJson.Validate(json);
        if (error != JwsError.None)
        {
            return error;
        }

        payload = new JsonPayload(JsonDocument.Parse(json.ToArray(), StrictJson.DocumentOptions));
        return JwsError.None;
    }

    /// <inheritdoc />
    public void Dispose() => Document?.Dispose();
}

/// <summary>
/// The one reader of every JWS compact serialization Safeguard accepts (RFC 7515 section 7.1), under a
/// <see cref="JwsPolicy"/>. In order: size, ASCII, segments (a JWE is named as such), canonical unpadded base64url,
/// UTF-8 without a byte-order mark, the header and the payload under <see cref="StrictJson"/>, then the header
/// policy: no <c>enc</c>/<c>zip</c>, <c>alg</c> on the allow-list, no <c>crit</c>, no key URL or certificate, a
/// <c>jwk</c> only where the policy requires one, a well-formed <c>kid</c>. <c>typ</c> is the caller's step
/// (<see cref="JwsPolicy.AllowsType"/>), so each use checks it where its own order puts it. Nothing here verifies
/// a signature; see <see cref="JwsVerifier"/>.
/// </summary>
internal static class JwsReader
{
    private static readonly SearchValues<char> Base64UrlCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>Splits, decodes and reads a JWS under <paramref name="policy"/>.</summary>
    /// <typeparam name="TPayload">How the use reads its claims.</typeparam>
    /// <param name="token">The compact serialization.</param>
    /// <param name="policy">The rules.</param>
    /// <param name="header">The header values.</param>
    /// <param name="payload">The claims; <c>default</c> on failure (nothing to dispose).</param>
    /// <param name="segments">Where the signing input and signature are.</param>
    /// <returns><see cref="JwsError.None"/>, or the first rule broken.</returns>
    public static JwsError Read<TPayload>(string? token, JwsPolicy policy, out JwsHeader header, out TPayload payload, out JwsSegments segments)
        where TPayload : IJwsPayload<TPayload>
    {
        header = default;
        payload = default!;
        segments = default;
        if (string.IsNullOrEmpty(token))
        {
            return JwsError.Missing;
        }

        if (token.Length > policy.MaxLength)
        {
            return JwsError.TooLarge;
        }

        if (!Ascii.IsValid(token))
        {
            return JwsError.Malformed;
        }

        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first < 0 || second < 0)
        {
            return JwsError.Malformed;
        }

        if (token.AsSpan(second + 1).Contains('.'))
        {
            // Five segments is a JWE (RFC 7516 section 7.1): never decrypted or decompressed (CVE-2024-21319).
            return token.AsSpan().Count('.') == 4 ? JwsError.Encrypted : JwsError.Malformed;
        }

        var headerSegment = token.AsSpan(0, first);
        var payloadSegment = token.AsSpan(first + 1, second - first - 1);
        var signatureSegment = token.AsSpan(second + 1);

        // An empty signature is left to the algorithm check (alg "none") and the signature step.
        if (!IsBase64Url(headerSegment) || !IsBase64Url(payloadSegment) || (!signatureSegment.IsEmpty && !IsBase64Url(signatureSegment)))
        {
            return JwsError.Malformed;
        }

        var error = Decode(headerSegment, policy, out var parsed, out bool encrypted, out bool critical, out bool keyUrl, out bool embedded);
        if (error != JwsError.None)
        {
            return error;
        }

        error = DecodePayload(payloadSegment, out payload);
        if (error != JwsError.None)
        {
            return error;
        }

        error = CheckHeader(parsed, policy, encrypted, critical, keyUrl, embedded);
        if (error != JwsError.None)
        {
            (payload as IDisposable)?.Dispose();
            payload = default!;
            return error;
        }

        header = parsed;
        segments = new JwsSegments(second, (second + 1)..);
        return JwsError.None;
    }

    /// <summary>Whether a segment is non-empty canonical unpadded base64url (length mod 4 never 1, unused low bits zero).</summary>
    /// <param name="segment">The segment.</param>
    /// <returns>True if canonical.</returns>
    public static bool IsBase64Url(ReadOnlySpan<char> segment)
    {
        if (segment.IsEmpty || segment.Length % 4 == 1 || segment.ContainsAnyExcept(Base64UrlCharacters))
        {
            return false;
        }

        // Canonical form only: one value has one spelling, so a token's hash (the verified-token cache key, a replay
        // cache entry) cannot be varied for the same signature.
        var unusedBits = (segment.Length % 4) switch { 2 => 4, 3 => 2, _ => 0 };
        return unusedBits == 0 || (SextetOf(segment[^1]) & ((1 << unusedBits) - 1)) == 0;
    }

    /// <summary>Decodes a canonical base64url segment (the reader has checked it).</summary>
    /// <param name="segment">The segment.</param>
    /// <returns>The bytes.</returns>
    public static byte[] DecodeSegment(ReadOnlySpan<char> segment) => Base64Url.DecodeFromChars(segment);

    private static int SextetOf(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };

    private static JwsError CheckHeader(JwsHeader header, JwsPolicy policy, bool encrypted, bool critical, bool keyUrl, bool embedded)
    {
        if (encrypted)
        {
            return JwsError.Encrypted;
        }

        if (!policy.AllowsAlgorithm(header.Algorithm))
        {
            return JwsError.AlgorithmNotAllowed;
        }

        if (critical)
        {
            return JwsError.CriticalHeader;
        }

        if (keyUrl || (embedded && !policy.RequireEmbeddedKey))
        {
            return JwsError.KeyReference;
        }

        if (policy.RequireEmbeddedKey && header.EmbeddedKey.ValueKind != JsonValueKind.Object)
        {
            return JwsError.EmbeddedKeyMissing;
        }

        if (header.KeyId is null ? policy.RequireKeyId : !KeyIds.IsWellFormed(header.KeyId))
        {
            return JwsError.KeyIdMalformed;
        }

        return JwsError.None;
    }

    private static JwsError Decode(
        ReadOnlySpan<char> segment, JwsPolicy policy, out JwsHeader header, out bool encrypted, out bool critical, out bool keyUrl, out bool embedded)
    {
        header = default;
        encrypted = critical = keyUrl = embedded = false;
        var rented = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(segment.Length));
        try
        {
            if (!TryDecode(segment, rented, out var json))
            {
                return JwsError.Malformed;
            }

            try
            {
                var reader = new Utf8JsonReader(json, StrictJson.ReaderOptions);
                return ReadHeader(ref reader, policy, out header, out encrypted, out critical, out keyUrl, out embedded);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
            {
                // InvalidOperationException: a \u escape naming a lone surrogate (GetString refuses it).
                return JwsError.Malformed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static JwsError DecodePayload<TPayload>(ReadOnlySpan<char> segment, out TPayload payload)
        where TPayload : IJwsPayload<TPayload>
    {
        payload = default!;
        var rented = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(segment.Length));
        try
        {
            if (!TryDecode(segment, rented, out var json))
            {
                return JwsError.Malformed;
            }

            try
            {
                return TPayload.Read(json, out payload);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
            {
                return JwsError.Malformed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool TryDecode(ReadOnlySpan<char> segment, byte[] buffer, out ReadOnlySpan<byte> json)
    {
        json = default;
        if (Base64Url.DecodeFromChars(segment, buffer, out var consumed, out var written) != OperationStatus.Done || consumed != segment.Length)
        {
            return false;
        }

        json = buffer.AsSpan(0, written);
        return Utf8.IsValid(json) && !json.StartsWith("\uFEFF"u8);
    }

    private static JwsError ReadHeader(
        ref Utf8JsonReader reader, JwsPolicy policy, out JwsHeader header, out bool encrypted, out bool critical, out bool keyUrl, out bool embedded)
    {
        header = default;
        encrypted = critical = keyUrl = embedded = false;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return JwsError.Malformed;
        }

        string? alg = null, kid = null, typ = null;
        JsonElement jwk = default;
        var names = new List<string>(4);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (names.Contains(name, StringComparer.Ordinal))
            {
                return JwsError.DuplicateMember;
            }

            names.Add(name);
            reader.Read();
            switch (name)
            {
                case "alg":
                    if (!StrictJson.TryReadString(ref reader, out alg))
                    {
                        return JwsError.MemberMalformed;
                    }

                    break;
                case "kid":
                    if (!StrictJson.TryReadString(ref reader, out kid))
                    {
                        return JwsError.MemberMalformed;
                    }

                    break;
                case "typ":
                    if (!StrictJson.TryReadString(ref reader, out typ))
                    {
                        return JwsError.MemberMalformed;
                    }

                    break;
                case "jwk" when policy.RequireEmbeddedKey:
                    embedded = true;
                    var probe = reader;
                    if (!StrictJson.SkipRejectingDuplicates(ref probe))
                    {
                        return JwsError.DuplicateMember;
                    }

                    jwk = JsonElement.ParseValue(ref reader);
                    break;
                default:
                    critical |= name == "crit";
                    keyUrl |= name is "jku" or "x5u" or "x5c";
                    embedded |= name == "jwk";
                    encrypted |= name is "enc" or "zip";
                    if (!StrictJson.SkipRejectingDuplicates(ref reader))
                    {
                        return JwsError.DuplicateMember;
                    }

                    break;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return JwsError.Malformed;
        }

        header = new JwsHeader(alg, kid, typ, jwk);
        return JwsError.None;
    }
}
