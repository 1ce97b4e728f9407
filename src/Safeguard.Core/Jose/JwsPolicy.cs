using Safeguard.Keys;

namespace Safeguard.Jose;

/// <summary>
/// What one kind of JWS must satisfy before anything it says is believed. Every JWS the product reads is read under
/// one of <see cref="JwsPolicies"/> by <see cref="JwsReader"/>, so the rules below are judged the same way for all of
/// them; a use may only narrow its policy (fewer algorithms, a smaller size), never widen it. Whatever the policy,
/// the reader refuses: a JWE or <c>zip</c>, non-canonical or padded base64url, invalid UTF-8, a byte-order mark,
/// anything but a JSON object, JSON nested deeper than 8, a member name twice at any depth, <c>crit</c> (no critical
/// extension is understood, RFC 7515 section 4.1.11), and <c>jku</c>, <c>x5u</c>, <c>x5c</c> (a token never chooses
/// where its key comes from, RFC 8725 section 3.10).
/// </summary>
public sealed record JwsPolicy
{
    /// <summary>What the JWS is, for messages (<c>access token</c>, <c>DPoP proof</c>).</summary>
    public required string Use { get; init; }

    /// <summary>
    /// The <c>typ</c> values accepted (explicit typing, RFC 8725 section 3.11). Compared as media types are (RFC 7515
    /// section 4.1.9): case-insensitively, with an optional <c>application/</c> prefix.
    /// </summary>
    public required IReadOnlyList<string> Types { get; init; }

    /// <summary>Whether a JWS without <c>typ</c> is accepted too (RFC 7523 client assertions predate explicit typing). Default false.</summary>
    public bool TypeOptional { get; init; }

    /// <summary>The <c>alg</c> values accepted; never <c>none</c> or an HMAC algorithm (every entry must be in <see cref="SigningAlgorithms.All"/>).</summary>
    public required IReadOnlyList<string> Algorithms { get; init; }

    /// <summary>The longest compact serialization accepted, in characters; a longer one is refused before it is parsed.</summary>
    public required int MaxLength { get; init; }

    /// <summary>Whether the header must carry a well-formed <c>kid</c> naming a trusted key. When false, a <c>kid</c> that is present must still be well-formed.</summary>
    public bool RequireKeyId { get; init; }

    /// <summary>
    /// Whether the key is the header's own <c>jwk</c> (DPoP proofs, RFC 9449 section 4.2, where the proof is made
    /// with the key it names); then a <c>jwk</c> is required. For every other use a <c>jwk</c> is refused: the
    /// verifier's trusted keys decide, never the token.
    /// </summary>
    public bool RequireEmbeddedKey { get; init; }

    /// <summary>Whether <paramref name="type"/> is acceptable as this JWS's <c>typ</c>.</summary>
    /// <param name="type">The header's <c>typ</c>, or null when absent.</param>
    /// <returns>True if accepted.</returns>
    public bool AllowsType(string? type)
    {
        if (type is null)
        {
            return TypeOptional;
        }

        var bare = type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) ? type["application/".Length..] : type;
        foreach (var allowed in Types)
        {
            if (string.Equals(bare, allowed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="algorithm"/> is on this policy's allow-list (ordinal: <c>es256</c> is not <c>ES256</c>).</summary>
    /// <param name="algorithm">The header's <c>alg</c>.</param>
    /// <returns>True if allowed.</returns>
    public bool AllowsAlgorithm(string? algorithm)
    {
        if (algorithm is null)
        {
            return false;
        }

        foreach (var allowed in Algorithms)
        {
            if (string.Equals(algorithm, allowed, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>This policy with fewer algorithms and a smaller size limit (a use's own options may narrow, never widen).</summary>
    /// <param name="algorithms">The algorithms to keep; null or empty keeps them all. Algorithms outside this policy are dropped, so a list that names none of them allows nothing.</param>
    /// <param name="maxLength">The size limit; above this policy's own limit it is ignored.</param>
    /// <returns>The narrowed policy.</returns>
    public JwsPolicy Narrow(IEnumerable<string>? algorithms, int? maxLength)
    {
        var named = algorithms?.ToArray() ?? [];
        var kept = named.Where(AllowsAlgorithm).Distinct(StringComparer.Ordinal).ToArray();
        return this with
        {
            Algorithms = named.Length == 0 ? Algorithms : kept,
            MaxLength = maxLength is { } limit && limit < MaxLength ? limit : MaxLength,
        };
    }
}

/// <summary>The policy of every kind of JWS Safeguard reads.</summary>
public static class JwsPolicies
{
    /// <summary>RFC 9068 access tokens: <c>at+jwt</c>, a trusted key by <c>kid</c>, at most 8 KB.</summary>
    public static JwsPolicy AccessToken { get; } = new()
    {
        Use = "access token",
        Types = ["at+jwt"],
        Algorithms = SigningAlgorithms.All,
        MaxLength = 8192,
        RequireKeyId = true,
    };

    /// <summary>RFC 9449 DPoP proofs: <c>dpop+jwt</c>, signed by the public <c>jwk</c> in their header, at most 4 KB.</summary>
    public static JwsPolicy DpopProof { get; } = new()
    {
        Use = "DPoP proof",
        Types = ["dpop+jwt"],
        Algorithms = SigningAlgorithms.All,
        MaxLength = 4096,
        RequireEmbeddedKey = true,
    };

    /// <summary>
    /// RFC 7523 client assertions: <c>client-authentication+jwt</c> (draft-ietf-oauth-rfc7523bis), <c>JWT</c> or no
    /// <c>typ</c>; a key of the client's registered JWKS (by <c>kid</c> when one is given); at most 8 KB.
    /// </summary>
    public static JwsPolicy ClientAssertion { get; } = new()
    {
        Use = "client assertion",
        Types = ["client-authentication+jwt", "JWT"],
        TypeOptional = true,
        Algorithms = SigningAlgorithms.All,
        MaxLength = 8192,
    };

    /// <summary>Audit checkpoints: their own <c>typ</c>, an audit key (ECDSA) by <c>kid</c>.</summary>
    public static JwsPolicy AuditCheckpoint { get; } = new()
    {
        Use = "audit checkpoint",
        Types = ["safeguard-audit-checkpoint+jwt"],
        Algorithms = [SigningAlgorithms.ES256, SigningAlgorithms.ES384],
        MaxLength = 4096,
        RequireKeyId = true,
    };

    /// <summary>Audit archive manifests: their own <c>typ</c>, an audit key by <c>kid</c>; they list every file, so up to 4 MB.</summary>
    public static JwsPolicy AuditArchiveManifest { get; } = new()
    {
        Use = "audit archive manifest",
        Types = ["safeguard-audit-archive+jwt"],
        Algorithms = [SigningAlgorithms.ES256, SigningAlgorithms.ES384],
        MaxLength = 4 * 1024 * 1024,
        RequireKeyId = true,
    };

    /// <summary>
    /// OIDC ID tokens shown back to the server as <c>id_token_hint</c> (RP-initiated logout): <c>JWT</c>, one of the
    /// server's own signing keys by <c>kid</c>, at most 8 KB.
    /// </summary>
    public static JwsPolicy IdTokenHint { get; } = new()
    {
        Use = "ID token hint",
        Types = ["JWT"],
        Algorithms = SigningAlgorithms.All,
        MaxLength = 8192,
        RequireKeyId = true,
    };

    /// <summary>Every policy, for the attack table that runs against each use.</summary>
    public static IReadOnlyList<JwsPolicy> All { get; } = [AccessToken, DpopProof, ClientAssertion, AuditCheckpoint, AuditArchiveManifest, IdTokenHint];
}
