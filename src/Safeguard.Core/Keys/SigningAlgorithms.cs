using System.Security.Cryptography;

namespace Safeguard.Keys;

/// <summary>
/// The closed set of JWS algorithms Safeguard signs and verifies with. <c>none</c> and every HMAC algorithm are
/// absent by design (RFC 8725 section 3.1): a symmetric key shared with verifiers would let any verifier mint tokens.
/// </summary>
public static class SigningAlgorithms
{
    /// <summary>ECDSA on P-256 with SHA-256; the default.</summary>
    public const string ES256 = "ES256";

    /// <summary>ECDSA on P-384 with SHA-384.</summary>
    public const string ES384 = "ES384";

    /// <summary>RSASSA-PSS with SHA-256 (keys of 2048 bits or more).</summary>
    public const string PS256 = "PS256";

    /// <summary>RSASSA-PKCS1-v1_5 with SHA-256 (keys of 2048 bits or more).</summary>
    public const string RS256 = "RS256";

    /// <summary>Every algorithm Safeguard supports, in order of preference.</summary>
    public static IReadOnlyList<string> All { get; } = [ES256, ES384, PS256, RS256];

    /// <summary>The smallest RSA modulus accepted, in bits.</summary>
    public const int MinimumRsaKeySize = 2048;

    /// <summary>Whether <paramref name="algorithm"/> is one of <see cref="All"/> (ordinal, case-sensitive: <c>es256</c> is not <c>ES256</c>).</summary>
    /// <param name="algorithm">A JWS <c>alg</c> value.</param>
    public static bool IsSupported(string? algorithm) =>
        algorithm is ES256 or ES384 or PS256 or RS256;

    /// <summary>Whether <paramref name="algorithm"/> is an ECDSA algorithm.</summary>
    /// <param name="algorithm">A supported JWS <c>alg</c> value.</param>
    public static bool IsEcdsa(string algorithm) => algorithm is ES256 or ES384;

    /// <summary>The curve an ECDSA algorithm is bound to.</summary>
    internal static ECCurve CurveFor(string algorithm) => algorithm switch
    {
        ES256 => ECCurve.NamedCurves.nistP256,
        ES384 => ECCurve.NamedCurves.nistP384,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    /// <summary>The JOSE curve name (<c>crv</c>) of an ECDSA algorithm.</summary>
    internal static string CurveNameFor(string algorithm) => algorithm switch
    {
        ES256 => "P-256",
        ES384 => "P-384",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };

    /// <summary>The length of an IEEE P1363 ECDSA signature (r || s) for the algorithm, in bytes.</summary>
    internal static int EcdsaSignatureLength(string algorithm) => algorithm switch
    {
        ES256 => 64,
        ES384 => 96,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an ECDSA algorithm."),
    };
}
