using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Safeguard.Keys;

/// <summary>
/// A public signature key as JOSE knows it (RFC 7517/7518): an EC key on P-256 or P-384, or an RSA key of at least
/// 2048 bits. Imported once and kept (an EC import costs about twice a verify). It verifies for the algorithms its
/// type allows, and only for its bound algorithm when it has one; ECDSA signatures must be the fixed-length
/// <c>r || s</c> of RFC 7518 section 3.4. Thread-safe for verification.
/// </summary>
public sealed class JwkPublicKey : IDisposable
{
    /// <summary>The largest RSA modulus accepted, in bits: beyond this a verify is a denial of service, not security.</summary>
    public const int MaximumRsaKeySize = 8192;

    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;

    private JwkPublicKey(ECDsa? ec, RSA? rsa, string keyType, string? curve, string? algorithm, string? keyId, string thumbprint, string? x, string? y, string? n, string? e)
    {
        _ec = ec;
        _rsa = rsa;
        KeyType = keyType;
        Curve = curve;
        Algorithm = algorithm;
        KeyId = keyId;
        Thumbprint = thumbprint;
        X = x;
        Y = y;
        N = n;
        E = e;
    }

    /// <summary><c>EC</c> or <c>RSA</c>.</summary>
    public string KeyType { get; }

    /// <summary>For EC keys: <c>P-256</c> or <c>P-384</c>.</summary>
    public string? Curve { get; }

    /// <summary>The one algorithm the key is bound to, or null when it may serve every algorithm of its type.</summary>
    public string? Algorithm { get; }

    /// <summary>The <c>kid</c> the key was published under, if any.</summary>
    public string? KeyId { get; }

    /// <summary>The RFC 7638 SHA-256 thumbprint, base64url (what <c>cnf.jkt</c> carries).</summary>
    public string Thumbprint { get; }

    internal string? X { get; }

    internal string? Y { get; }

    internal string? N { get; }

    /// <summary>For RSA keys: the modulus size in bits; null for EC keys.</summary>
    public int? RsaKeySize => _rsa?.KeySize;

    /// <summary>For RSA keys: whether the public exponent is 65537 (<c>AQAB</c>), the only one anybody should use.</summary>
    public bool HasStandardRsaExponent => E == "AQAB";

    internal string? E { get; }

    /// <summary>
    /// Imports a JWK object: <c>kty</c> EC (P-256 or P-384, full-length coordinates) or RSA (2048 to 8192 bits);
    /// public members only; <c>use</c>, when present, <c>sig</c>; <c>alg</c>, when present, a supported algorithm that
    /// fits the key. Null, with the reason, for anything else.
    /// </summary>
    /// <param name="jwk">The JWK.</param>
    /// <param name="problem">Why it was refused.</param>
    /// <returns>The key, or null.</returns>
    public static JwkPublicKey? FromJwk(JsonElement jwk, out string? problem)
    {
        problem = null;
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            problem = "the key is not a JSON object";
            return null;
        }

        foreach (var member in PrivateMembers)
        {
            if (jwk.TryGetProperty(member, out _))
            {
                problem = "the key carries private key material";
                return null;
            }
        }

        if (GetString(jwk, "use") is { } use && use != "sig")
        {
            problem = $"the key's use is '{use}', not 'sig'";
            return null;
        }

        var algorithm = GetString(jwk, "alg");
        if (jwk.TryGetProperty("alg", out _) && !SigningAlgorithms.IsSupported(algorithm))
        {
            problem = "the key's alg is not one of " + string.Join(", ", SigningAlgorithms.All);
            return null;
        }

        var keyId = GetString(jwk, "kid");
        try
        {
            switch (GetString(jwk, "kty"))
            {
                case "EC":
                    return FromEc(jwk, algorithm, keyId, out problem);
                case "RSA":
                    return FromRsa(jwk, algorithm, keyId, out problem);
                default:
                    problem = "the key's kty is not EC or RSA";
                    return null;
            }
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            problem = "the key's parameters are not valid base64url or not a valid key";
            return null;
        }
    }

    /// <summary>Imports a DER SubjectPublicKeyInfo bound to one algorithm (a signing key of the key ring).</summary>
    /// <param name="algorithm">The algorithm the key is bound to.</param>
    /// <param name="subjectPublicKeyInfo">The DER public key.</param>
    /// <returns>The key; its <see cref="KeyId"/> is its thumbprint.</returns>
    /// <exception cref="KeyProtectionException">The key does not fit the algorithm, or is too weak.</exception>
    public static JwkPublicKey FromSubjectPublicKeyInfo(string algorithm, byte[] subjectPublicKeyInfo)
    {
        ArgumentNullException.ThrowIfNull(subjectPublicKeyInfo);
        if (!SigningAlgorithms.IsSupported(algorithm))
        {
            throw new KeyProtectionException($"Algorithm '{algorithm}' is not one Safeguard uses.");
        }

        if (SigningAlgorithms.IsEcdsa(algorithm))
        {
            var ec = ECDsa.Create();
            try
            {
                ec.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
                var curve = SigningAlgorithms.CurveNameFor(algorithm);
                if (ec.KeySize != (algorithm == SigningAlgorithms.ES256 ? 256 : 384))
                {
                    throw new KeyProtectionException($"An {algorithm} key must be on {curve}.");
                }

                var q = ec.ExportParameters(includePrivateParameters: false).Q;
                var thumbprint = KeyIds.EcThumbprint(curve, q.X, q.Y);
                return new JwkPublicKey(ec, null, "EC", curve, algorithm, thumbprint, thumbprint,
                    Base64Url.EncodeToString(q.X), Base64Url.EncodeToString(q.Y), null, null);
            }
            catch
            {
                ec.Dispose();
                throw;
            }
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
            if (rsa.KeySize < SigningAlgorithms.MinimumRsaKeySize)
            {
                throw new KeyProtectionException($"An RSA signing key must have at least {SigningAlgorithms.MinimumRsaKeySize} bits; this one has {rsa.KeySize}.");
            }

            var parameters = rsa.ExportParameters(includePrivateParameters: false);
            var thumbprint = KeyIds.RsaThumbprint(parameters.Exponent, parameters.Modulus);
            return new JwkPublicKey(null, rsa, "RSA", null, algorithm, thumbprint, thumbprint, null, null,
                Base64Url.EncodeToString(KeyIds.TrimLeadingZeros(parameters.Modulus)), Base64Url.EncodeToString(KeyIds.TrimLeadingZeros(parameters.Exponent)));
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>Whether this key may verify a signature made with <paramref name="algorithm"/>.</summary>
    /// <param name="algorithm">The JWS <c>alg</c>.</param>
    /// <returns>True when the key's type (and curve, and bound algorithm) fit.</returns>
    public bool Fits(string? algorithm)
    {
        if (Algorithm is not null && !string.Equals(Algorithm, algorithm, StringComparison.Ordinal))
        {
            return false;
        }

        return algorithm switch
        {
            SigningAlgorithms.ES256 => Curve == "P-256",
            SigningAlgorithms.ES384 => Curve == "P-384",
            SigningAlgorithms.PS256 or SigningAlgorithms.RS256 => _rsa is not null,
            _ => false,
        };
    }

    /// <summary>Verifies a JWS signature: false for an algorithm the key does not fit, a malformed signature or a wrong one.</summary>
    /// <param name="algorithm">The header's <c>alg</c>.</param>
    /// <param name="signingInput">The ASCII bytes of <c>header '.' payload</c>.</param>
    /// <param name="signature">The decoded signature.</param>
    /// <returns>True only for a valid signature.</returns>
    public bool Verify(string? algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        if (!Fits(algorithm) || signature.IsEmpty)
        {
            return false;
        }

        try
        {
            return algorithm switch
            {
                // Fixed-length r || s only (RFC 7518 section 3.4): DER and other encodings are refused before the math.
                SigningAlgorithms.ES256 => signature.Length == 64 && _ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256),
                SigningAlgorithms.ES384 => signature.Length == 96 && _ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA384),
                SigningAlgorithms.PS256 => _rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
                SigningAlgorithms.RS256 => _rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => false,
            };
        }
        catch (Exception ex) when (ex is CryptographicException or ObjectDisposedException)
        {
            // A key disposed under a racing verification fails closed: the signature is not accepted.
            return false;
        }
    }

    /// <summary>Writes the key as a JWK object for a JWKS: public members, <c>use: "sig"</c>, its <c>alg</c> and <c>kid</c>.</summary>
    /// <param name="writer">The writer.</param>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("kty", KeyType);
        writer.WriteString("use", "sig");
        if (Algorithm is not null)
        {
            writer.WriteString("alg", Algorithm);
        }

        if (KeyId is not null)
        {
            writer.WriteString("kid", KeyId);
        }

        if (KeyType == "EC")
        {
            writer.WriteString("crv", Curve);
            writer.WriteString("x", X);
            writer.WriteString("y", Y);
        }
        else
        {
            writer.WriteString("n", N);
            writer.WriteString("e", E);
        }

        writer.WriteEndObject();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ec?.Dispose();
        _rsa?.Dispose();
    }

    private static JwkPublicKey? FromEc(JsonElement jwk, string? algorithm, string? keyId, out string? problem)
    {
        problem = null;
        var curveName = GetString(jwk, "crv");
        var (curve, size) = curveName switch
        {
            "P-256" => (ECCurve.NamedCurves.nistP256, 32),
            "P-384" => (ECCurve.NamedCurves.nistP384, 48),
            _ => (default(ECCurve), 0),
        };
        if (size == 0 || (algorithm is not null && algorithm != (size == 32 ? SigningAlgorithms.ES256 : SigningAlgorithms.ES384)))
        {
            problem = "the EC key is not on P-256 or P-384, or does not fit its alg";
            return null;
        }

        var x = Base64Url.DecodeFromChars(GetString(jwk, "x"));
        var y = Base64Url.DecodeFromChars(GetString(jwk, "y"));
        if (x.Length != size || y.Length != size)
        {
            problem = "the EC key's coordinates are not full length";
            return null;
        }

        // Import validates that the point is on the curve.
        var ec = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
        return new JwkPublicKey(ec, null, "EC", curveName, algorithm, keyId, KeyIds.EcThumbprint(curveName!, x, y),
            Base64Url.EncodeToString(x), Base64Url.EncodeToString(y), null, null);
    }

    private static JwkPublicKey? FromRsa(JsonElement jwk, string? algorithm, string? keyId, out string? problem)
    {
        problem = null;
        if (algorithm is SigningAlgorithms.ES256 or SigningAlgorithms.ES384)
        {
            problem = "the RSA key names an ECDSA alg";
            return null;
        }

        var n = Base64Url.DecodeFromChars(GetString(jwk, "n"));
        var e = Base64Url.DecodeFromChars(GetString(jwk, "e"));
        var modulus = KeyIds.TrimLeadingZeros(n);
        var exponent = KeyIds.TrimLeadingZeros(e);
        if (modulus.Length * 8 < SigningAlgorithms.MinimumRsaKeySize || modulus.Length * 8 > MaximumRsaKeySize)
        {
            problem = $"the RSA key is not {SigningAlgorithms.MinimumRsaKeySize} to {MaximumRsaKeySize} bits";
            return null;
        }

        if (exponent.Length is 0 or > 8)
        {
            problem = "the RSA key's exponent is not valid";
            return null;
        }

        var rsa = RSA.Create(new RSAParameters { Modulus = modulus.ToArray(), Exponent = exponent.ToArray() });
        return new JwkPublicKey(null, rsa, "RSA", null, algorithm, keyId, KeyIds.RsaThumbprint(exponent, modulus), null, null,
            Base64Url.EncodeToString(modulus), Base64Url.EncodeToString(exponent));
    }

    private static string? GetString(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
