using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Safeguard.Tokens;

/// <summary>
/// The header values the validator decides on. Only these are read; no header value ever selects key material.
/// </summary>
internal readonly record struct JwsHeader(
    string? Algorithm, string? KeyId, string? TokenType, bool HasCritical, bool HasKeyReference, bool IsEncrypted);

/// <summary>
/// Strict reader of the JWS compact serialization (RFC 7515 section 7.1) for access tokens: exactly three
/// segments, unpadded base64url, valid UTF-8, one JSON object each with no duplicate member names
/// (RFC 8725 section 3.7: validate all layers), registered claims of the right JSON type.
/// </summary>
internal static class JwsReader
{
    private const int MaxJsonDepth = 8;

    // Year 3000: far beyond any honest token, and far enough from DateTimeOffset.MaxValue that adding skew cannot overflow.
    private const double MaxNumericDate = 32503680000d;
    private static readonly SearchValues<char> Base64UrlCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = MaxJsonDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Splits and decodes a token. Returns null on success, else an SG1xxx code.</summary>
    public static string? Read(string token, out JwsHeader header, out ValidatedAccessToken claims, out Range signingInput, out Range signature)
    {
        header = default;
        claims = null!;
        signingInput = default;
        signature = default;

        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = first < 0 ? -1 : token.IndexOf('.', first + 1);
        if (first < 0 || second < 0)
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        if (token.AsSpan(second + 1).Contains('.'))
        {
            // Five segments is a JWE (RFC 7516 section 7.1): never decrypted or decompressed here (CVE-2024-21319).
            return token.AsSpan().Count('.') == 4 ? SafeguardErrorCodes.TokenEncrypted : SafeguardErrorCodes.TokenMalformed;
        }

        var headerSegment = token.AsSpan(0, first);
        var payloadSegment = token.AsSpan(first + 1, second - first - 1);
        var signatureSegment = token.AsSpan(second + 1);
        if (!IsBase64Url(headerSegment) || !IsBase64Url(payloadSegment) || (!signatureSegment.IsEmpty && !IsBase64Url(signatureSegment)))
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        var error = DecodeAndRead(headerSegment, isHeader: true, out header, out _);
        if (error is not null)
        {
            return error;
        }

        error = DecodeAndRead(payloadSegment, isHeader: false, out _, out var payload);
        if (error is not null)
        {
            return error;
        }

        claims = new ValidatedAccessToken
        {
            Algorithm = header.Algorithm ?? string.Empty,
            KeyId = header.KeyId ?? string.Empty,
            TokenType = header.TokenType,
            Issuer = payload.Issuer,
            Subject = payload.Subject,
            Audiences = payload.Audiences ?? [],
            ExpiresAt = payload.ExpiresAt,
            IssuedAt = payload.IssuedAt,
            NotBefore = payload.NotBefore,
            TokenId = payload.TokenId,
            ClientId = payload.ClientId,
            Scopes = payload.Scope is null ? [] : payload.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            SessionId = payload.SessionId,
            AuthenticationTime = payload.AuthenticationTime,
            AuthenticationContextClass = payload.Acr,
            AuthenticationMethods = payload.Amr ?? [],
            Roles = payload.Roles ?? [],
            ConfirmationJwkThumbprint = payload.Jkt,
            ConfirmationCertificateThumbprint = payload.X5tS256,
            AdditionalClaims = payload.Additional ?? ValidatedAccessToken.EmptyClaims,
        };
        signingInput = 0..second;
        signature = (second + 1)..;
        return null;
    }

    /// <summary>Whether a segment is non-empty unpadded base64url of a length that can decode (length mod 4 is never 1).</summary>
    public static bool IsBase64Url(ReadOnlySpan<char> segment)
    {
        if (segment.IsEmpty || segment.Length % 4 == 1 || segment.ContainsAnyExcept(Base64UrlCharacters))
        {
            return false;
        }

        // Canonical form only: the unused low bits of the last character must be zero, so one value has one
        // spelling and the cache key (the token's hash) cannot be varied for the same signature.
        var unusedBits = (segment.Length % 4) switch { 2 => 4, 3 => 2, _ => 0 };
        return unusedBits == 0 || (SextetOf(segment[^1]) & ((1 << unusedBits) - 1)) == 0;
    }

    private static int SextetOf(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };

    private static string? DecodeAndRead(ReadOnlySpan<char> segment, bool isHeader, out JwsHeader header, out Payload payload)
    {
        header = default;
        payload = default;
        var maxLength = Base64Url.GetMaxDecodedLength(segment.Length);
        var rented = ArrayPool<byte>.Shared.Rent(maxLength);
        try
        {
            if (Base64Url.DecodeFromChars(segment, rented, out var consumed, out var written) != OperationStatus.Done
                || consumed != segment.Length)
            {
                return SafeguardErrorCodes.TokenMalformed;
            }

            var json = rented.AsSpan(0, written);
            if (!Utf8.IsValid(json) || json.StartsWith("\uFEFF"u8))
            {
                return SafeguardErrorCodes.TokenMalformed;
            }

            try
            {
                var reader = new Utf8JsonReader(json, ReaderOptions);
                return isHeader ? ReadHeader(ref reader, out header) : ReadPayload(ref reader, out payload);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
            {
                // InvalidOperationException: a \u escape naming a lone surrogate (GetString refuses it).
                return SafeguardErrorCodes.TokenMalformed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static string? ReadHeader(ref Utf8JsonReader reader, out JwsHeader header)
    {
        header = default;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        string? alg = null, kid = null, typ = null;
        bool crit = false, keyReference = false, encrypted = false;
        var names = new List<string>(4);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (names.Contains(name, StringComparer.Ordinal))
            {
                return SafeguardErrorCodes.TokenDuplicateMember;
            }

            names.Add(name);
            reader.Read();
            switch (name)
            {
                case "alg":
                    if (!TryReadString(ref reader, out alg))
                    {
                        return SafeguardErrorCodes.TokenClaimMalformed;
                    }

                    break;
                case "kid":
                    if (!TryReadString(ref reader, out kid))
                    {
                        return SafeguardErrorCodes.TokenClaimMalformed;
                    }

                    break;
                case "typ":
                    if (!TryReadString(ref reader, out typ))
                    {
                        return SafeguardErrorCodes.TokenClaimMalformed;
                    }

                    break;
                default:
                    crit |= name == "crit";
                    keyReference |= name is "jwk" or "jku" or "x5u" or "x5c";
                    encrypted |= name is "enc" or "zip";
                    if (!SkipRejectingDuplicates(ref reader))
                    {
                        return SafeguardErrorCodes.TokenDuplicateMember;
                    }

                    break;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        header = new JwsHeader(alg, kid, typ, crit, keyReference, encrypted);
        return null;
    }

    private static string? ReadPayload(ref Utf8JsonReader reader, out Payload payload)
    {
        payload = default;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        var p = new Payload();
        var seen = 0;
        List<string>? others = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Registered claims are matched on their bytes (no string per name); a repeat of any name,
            // escaped or not, is a duplicate.
            var claim = ClaimOf(ref reader);
            string? other = null;
            if (claim >= 0)
            {
                if ((seen & (1 << claim)) != 0)
                {
                    return SafeguardErrorCodes.TokenDuplicateMember;
                }

                seen |= 1 << claim;
            }
            else
            {
                other = reader.GetString()!;
                others ??= new List<string>(2);
                if (others.Contains(other, StringComparer.Ordinal))
                {
                    return SafeguardErrorCodes.TokenDuplicateMember;
                }

                others.Add(other);
            }

            reader.Read();
            var ok = claim switch
            {
                Iss => TryReadString(ref reader, out p.Issuer),
                Sub => TryReadString(ref reader, out p.Subject),
                Aud => TryReadStringOrArray(ref reader, out p.Audiences),
                Exp => TryReadNumericDate(ref reader, out p.ExpiresAt),
                Iat => TryReadNumericDate(ref reader, out p.IssuedAt),
                Nbf => TryReadNumericDate(ref reader, out p.NotBefore),
                AuthTime => TryReadNumericDate(ref reader, out p.AuthenticationTime),
                Jti => TryReadString(ref reader, out p.TokenId),
                ClientId => TryReadString(ref reader, out p.ClientId),
                Scope => TryReadString(ref reader, out p.Scope),
                Sid => TryReadString(ref reader, out p.SessionId),
                Acr => TryReadString(ref reader, out p.Acr),
                Amr => TryReadStringArray(ref reader, out p.Amr),
                Roles => TryReadStringOrArray(ref reader, out p.Roles),
                Cnf => TryReadConfirmation(ref reader, ref p),
                _ => TryReadAdditional(ref reader, other!, ref p),
            };
            if (!ok)
            {
                return p.Duplicate ? SafeguardErrorCodes.TokenDuplicateMember : SafeguardErrorCodes.TokenClaimMalformed;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return SafeguardErrorCodes.TokenMalformed;
        }

        payload = p;
        return null;
    }

    private const int Iss = 0, Sub = 1, Aud = 2, Exp = 3, Iat = 4, Nbf = 5, AuthTime = 6, Jti = 7, ClientId = 8,
        Scope = 9, Sid = 10, Acr = 11, Amr = 12, Roles = 13, Cnf = 14;

    /// <summary>The registered claim a property name is, or -1. ValueTextEquals unescapes, so "\u0073ub" is "sub".</summary>
    private static int ClaimOf(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            var name = reader.ValueSpan;
            return name.Length switch
            {
                3 when name.SequenceEqual("iss"u8) => Iss,
                3 when name.SequenceEqual("sub"u8) => Sub,
                3 when name.SequenceEqual("aud"u8) => Aud,
                3 when name.SequenceEqual("exp"u8) => Exp,
                3 when name.SequenceEqual("iat"u8) => Iat,
                3 when name.SequenceEqual("nbf"u8) => Nbf,
                3 when name.SequenceEqual("jti"u8) => Jti,
                3 when name.SequenceEqual("sid"u8) => Sid,
                3 when name.SequenceEqual("acr"u8) => Acr,
                3 when name.SequenceEqual("amr"u8) => Amr,
                3 when name.SequenceEqual("cnf"u8) => Cnf,
                5 when name.SequenceEqual("scope"u8) => Scope,
                5 when name.SequenceEqual("roles"u8) => Roles,
                9 when name.SequenceEqual("auth_time"u8) => AuthTime,
                9 when name.SequenceEqual("client_id"u8) => ClientId,
                _ => -1,
            };
        }

        ReadOnlySpan<string> names = ["iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "jti", "client_id", "scope", "sid", "acr", "amr", "roles", "cnf"];
        for (var i = 0; i < names.Length; i++)
        {
            if (reader.ValueTextEquals(names[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool TryReadString(ref Utf8JsonReader reader, out string? value)
    {
        value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return value is not null;
    }

    private static bool TryReadStringArray(ref Utf8JsonReader reader, out IReadOnlyList<string>? values)
    {
        values = null;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var list = new List<string>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return false;
            }

            list.Add(reader.GetString()!);
        }

        values = list;
        return true;
    }

    private static bool TryReadStringOrArray(ref Utf8JsonReader reader, out IReadOnlyList<string>? values)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            values = [reader.GetString()!];
            return true;
        }

        return TryReadStringArray(ref reader, out values);
    }

    private static bool TryReadNumericDate(ref Utf8JsonReader reader, out DateTimeOffset? value)
    {
        // RFC 7519 section 2: a JSON number of seconds since the epoch; fractions are allowed and truncated.
        value = null;
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds < 0 || seconds > MaxNumericDate)
        {
            return false;
        }

        value = DateTimeOffset.FromUnixTimeSeconds((long)seconds);
        return true;
    }

    private static bool TryReadConfirmation(ref Utf8JsonReader reader, ref Payload payload)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var names = new List<string>(2);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (names.Contains(name, StringComparer.Ordinal))
            {
                payload.Duplicate = true;
                return false;
            }

            names.Add(name);
            reader.Read();
            var ok = name switch
            {
                "jkt" => TryReadString(ref reader, out payload.Jkt),
                "x5t#S256" => TryReadString(ref reader, out payload.X5tS256),
                _ => SkipRejectingDuplicates(ref reader),
            };
            if (!ok)
            {
                payload.Duplicate |= name is not "jkt" and not "x5t#S256";
                return false;
            }
        }

        return true;
    }

    private static bool TryReadAdditional(ref Utf8JsonReader reader, string name, ref Payload payload)
    {
        var probe = reader;
        if (!SkipRejectingDuplicates(ref probe))
        {
            payload.Duplicate = true;
            return false;
        }

        payload.Additional ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        payload.Additional[name] = JsonElement.ParseValue(ref reader);
        return true;
    }

    /// <summary>Skips the current value; false if any object inside names a member twice.</summary>
    private static bool SkipRejectingDuplicates(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (!SkipRejectingDuplicates(ref reader))
                {
                    return false;
                }
            }

            return true;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            // Decoding proves the escapes name valid code points (a lone surrogate throws, and is malformed).
            _ = reader.GetString();
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return true;
        }

        var names = new List<string>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (names.Contains(name, StringComparer.Ordinal))
            {
                return false;
            }

            names.Add(name);
            reader.Read();
            if (!SkipRejectingDuplicates(ref reader))
            {
                return false;
            }
        }

        return true;
    }

    private struct Payload
    {
        public string? Issuer;
        public string? Subject;
        public IReadOnlyList<string>? Audiences;
        public DateTimeOffset? ExpiresAt;
        public DateTimeOffset? IssuedAt;
        public DateTimeOffset? NotBefore;
        public DateTimeOffset? AuthenticationTime;
        public string? TokenId;
        public string? ClientId;
        public string? Scope;
        public string? SessionId;
        public string? Acr;
        public IReadOnlyList<string>? Amr;
        public IReadOnlyList<string>? Roles;
        public string? Jkt;
        public string? X5tS256;
        public Dictionary<string, JsonElement>? Additional;
        public bool Duplicate;
    }
}
