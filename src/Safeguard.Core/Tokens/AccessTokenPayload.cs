using System.Text.Json;
using Safeguard.Jose;

namespace Safeguard.Tokens;

/// <summary>
/// The claims of an access token as its payload states them, read in one pass without a string per registered
/// name (the validator's hot path) under <see cref="StrictJson"/>'s rules: registered claims of the right JSON
/// type, no member name twice at any depth.
/// </summary>
internal struct AccessTokenPayload : IJwsPayload<AccessTokenPayload>
{
    // Year 3000: far beyond any honest token, and far enough from DateTimeOffset.MaxValue that adding skew cannot overflow.
    private const double MaxNumericDate = 32503680000d;

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

    /// <inheritdoc />
    public static JwsError Read(ReadOnlySpan<byte> json, out AccessTokenPayload payload)
    {
        var reader = new Utf8JsonReader(json, StrictJson.ReaderOptions);
        return ReadPayload(ref reader, out payload);
    }

    /// <summary>The validated claims, with the header values the validator decided on.</summary>
    public readonly ValidatedAccessToken ToToken(JwsHeader header) => new()
    {
        Algorithm = header.Algorithm ?? string.Empty,
        KeyId = header.KeyId ?? string.Empty,
        TokenType = header.Type,
        Issuer = Issuer,
        Subject = Subject,
        Audiences = Audiences ?? [],
        ExpiresAt = ExpiresAt,
        IssuedAt = IssuedAt,
        NotBefore = NotBefore,
        TokenId = TokenId,
        ClientId = ClientId,
        Scopes = Scope is null ? [] : Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        SessionId = SessionId,
        AuthenticationTime = AuthenticationTime,
        AuthenticationContextClass = Acr,
        AuthenticationMethods = Amr ?? [],
        Roles = Roles ?? [],
        ConfirmationJwkThumbprint = Jkt,
        ConfirmationCertificateThumbprint = X5tS256,
        AdditionalClaims = Additional ?? ValidatedAccessToken.EmptyClaims,
    };

    private static JwsError ReadPayload(ref Utf8JsonReader reader, out AccessTokenPayload payload)
    {
        payload = default;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return JwsError.Malformed;
        }

        var p = new AccessTokenPayload();
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
                    return JwsError.DuplicateMember;
                }

                seen |= 1 << claim;
            }
            else
            {
                other = reader.GetString()!;
                others ??= new List<string>(2);
                if (others.Contains(other, StringComparer.Ordinal))
                {
                    return JwsError.DuplicateMember;
                }

                others.Add(other);
            }

            reader.Read();
            var ok = claim switch
            {
                Claim.Iss => StrictJson.TryReadString(ref reader, out p.Issuer),
                Claim.Sub => StrictJson.TryReadString(ref reader, out p.Subject),
                Claim.Aud => StrictJson.TryReadStringOrArray(ref reader, out p.Audiences),
                Claim.Exp => TryReadNumericDate(ref reader, out p.ExpiresAt),
                Claim.Iat => TryReadNumericDate(ref reader, out p.IssuedAt),
                Claim.Nbf => TryReadNumericDate(ref reader, out p.NotBefore),
                Claim.AuthTime => TryReadNumericDate(ref reader, out p.AuthenticationTime),
                Claim.Jti => StrictJson.TryReadString(ref reader, out p.TokenId),
                Claim.ClientId => StrictJson.TryReadString(ref reader, out p.ClientId),
                Claim.Scope => StrictJson.TryReadString(ref reader, out p.Scope),
                Claim.Sid => StrictJson.TryReadString(ref reader, out p.SessionId),
                Claim.Acr => StrictJson.TryReadString(ref reader, out p.Acr),
                Claim.Amr => StrictJson.TryReadStringArray(ref reader, out p.Amr),
                Claim.Roles => StrictJson.TryReadStringOrArray(ref reader, out p.Roles),
                Claim.Cnf => TryReadConfirmation(ref reader, ref p),
                _ => TryReadAdditional(ref reader, other!, ref p),
            };
            if (!ok)
            {
                return p.Duplicate ? JwsError.DuplicateMember : JwsError.MemberMalformed;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return JwsError.Malformed;
        }

        payload = p;
        return JwsError.None;
    }

    /// <summary>The registered claims' indexes (bits of the "seen" mask).</summary>
    private static class Claim
    {
        public const int Iss = 0, Sub = 1, Aud = 2, Exp = 3, Iat = 4, Nbf = 5, AuthTime = 6, Jti = 7, ClientId = 8,
            Scope = 9, Sid = 10, Acr = 11, Amr = 12, Roles = 13, Cnf = 14;
    }

    /// <summary>The registered claim a property name is, or -1. ValueTextEquals unescapes, so "\u0073ub" is "sub".</summary>
    private static int ClaimOf(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            var name = reader.ValueSpan;
            return name.Length switch
            {
                3 when name.SequenceEqual("iss"u8) => Claim.Iss,
                3 when name.SequenceEqual("sub"u8) => Claim.Sub,
                3 when name.SequenceEqual("aud"u8) => Claim.Aud,
                3 when name.SequenceEqual("exp"u8) => Claim.Exp,
                3 when name.SequenceEqual("iat"u8) => Claim.Iat,
                3 when name.SequenceEqual("nbf"u8) => Claim.Nbf,
                3 when name.SequenceEqual("jti"u8) => Claim.Jti,
                3 when name.SequenceEqual("sid"u8) => Claim.Sid,
                3 when name.SequenceEqual("acr"u8) => Claim.Acr,
                3 when name.SequenceEqual("amr"u8) => Claim.Amr,
                3 when name.SequenceEqual("cnf"u8) => Claim.Cnf,
                5 when name.SequenceEqual("scope"u8) => Claim.Scope,
                5 when name.SequenceEqual("roles"u8) => Claim.Roles,
                9 when name.SequenceEqual("auth_time"u8) => Claim.AuthTime,
                9 when name.SequenceEqual("client_id"u8) => Claim.ClientId,
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

    private static bool TryReadConfirmation(ref Utf8JsonReader reader, ref AccessTokenPayload payload)
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
                "jkt" => StrictJson.TryReadString(ref reader, out payload.Jkt),
                "x5t#S256" => StrictJson.TryReadString(ref reader, out payload.X5tS256),
                _ => StrictJson.SkipRejectingDuplicates(ref reader),
            };
            if (!ok)
            {
                payload.Duplicate |= name is not "jkt" and not "x5t#S256";
                return false;
            }
        }

        return true;
    }

    private static bool TryReadAdditional(ref Utf8JsonReader reader, string name, ref AccessTokenPayload payload)
    {
        var probe = reader;
        if (!StrictJson.SkipRejectingDuplicates(ref probe))
        {
            payload.Duplicate = true;
            return false;
        }

        payload.Additional ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        payload.Additional[name] = JsonElement.ParseValue(ref reader);
        return true;
    }
}
