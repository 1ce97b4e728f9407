namespace Safeguard.Jose;

/// <summary>Why a JWS was refused under its <see cref="JwsPolicy"/>. Each use maps these onto its own error codes.</summary>
public enum JwsError
{
    /// <summary>Nothing is wrong.</summary>
    None = 0,

    /// <summary>No JWS was presented.</summary>
    Missing,

    /// <summary>Longer than the policy allows; refused before parsing.</summary>
    TooLarge,

    /// <summary>A JWE (five segments) or a header with <c>enc</c> or <c>zip</c>: never decrypted or decompressed.</summary>
    Encrypted,

    /// <summary>Not a compact JWS: segments, canonical base64url, ASCII, UTF-8, a JSON object, nesting.</summary>
    Malformed,

    /// <summary>A member name appears twice in the header or payload, at any depth.</summary>
    DuplicateMember,

    /// <summary>A header parameter or registered claim has the wrong JSON type.</summary>
    MemberMalformed,

    /// <summary><c>alg</c> missing or not on the policy's allow-list.</summary>
    AlgorithmNotAllowed,

    /// <summary><c>crit</c> present.</summary>
    CriticalHeader,

    /// <summary><c>jku</c>, <c>x5u</c> or <c>x5c</c> present, or a <c>jwk</c> where the verifier's keys decide.</summary>
    KeyReference,

    /// <summary>The policy needs the header's own <c>jwk</c> and it is absent or not an object.</summary>
    EmbeddedKeyMissing,

    /// <summary><c>kid</c> missing where required, or not well-formed.</summary>
    KeyIdMalformed,

    /// <summary><c>typ</c> not one the policy accepts.</summary>
    TypeNotAllowed,

    /// <summary>No trusted key fits the header's <c>kid</c> and <c>alg</c>.</summary>
    KeyUnknown,

    /// <summary>The signature does not verify.</summary>
    SignatureInvalid,
}
