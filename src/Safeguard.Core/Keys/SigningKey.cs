using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace Safeguard.Keys;

/// <summary>
/// A signing key as the key ring holds it in memory: its lifecycle timestamps, its public key (imported once and
/// kept, since an EC import costs about twice a verify) and, while it is pending or active, its private key.
/// Bound to exactly one algorithm.
/// </summary>
public sealed class SigningKey
{
    private readonly AsymmetricSecurityKey _publicKey;

    private SigningKey(
        StoredSigningKey record, AsymmetricSecurityKey publicKey, AsymmetricSecurityKey? privateKey, PublicJwk jwk)
    {
        Record = record;
        _publicKey = publicKey;
        Jwk = jwk;
        Verifier = new AsymmetricSignatureProvider(publicKey, record.Algorithm, willCreateSignatures: false);
        if (privateKey is not null)
        {
            SigningCredentials = new SigningCredentials(privateKey, record.Algorithm);
        }
    }

    /// <summary>The key id (RFC 7638 thumbprint).</summary>
    public string KeyId => Record.KeyId;

    /// <summary>The one algorithm this key signs and verifies with.</summary>
    public string Algorithm => Record.Algorithm;

    /// <summary>When the key was created.</summary>
    public DateTimeOffset CreatedAt => Record.CreatedAt;

    /// <summary>When the key starts (or started) signing.</summary>
    public DateTimeOffset ActivatesAt => Record.ActivatesAt;

    /// <summary>When the key stops (or stopped) signing; null while it has no successor.</summary>
    public DateTimeOffset? RetiresAt => Record.RetiresAt;

    /// <summary>When the key was revoked; null if never.</summary>
    public DateTimeOffset? RevokedAt => Record.RevokedAt;

    /// <summary>Whether this process holds the private key (only pending and active keys are decrypted).</summary>
    public bool HasPrivateKey => SigningCredentials is not null;

    /// <summary>The stored form of this key.</summary>
    internal StoredSigningKey Record { get; }

    /// <summary>The public key, for IdentityModel validation parameters.</summary>
    internal AsymmetricSecurityKey PublicSecurityKey => _publicKey;

    /// <summary>Verifies signatures; thread-safe, created once.</summary>
    internal SignatureProvider Verifier { get; }

    /// <summary>Signs tokens; null unless the private key was loaded.</summary>
    internal SigningCredentials? SigningCredentials { get; }

    /// <summary>The public parameters, for the JWKS.</summary>
    internal PublicJwk Jwk { get; }

    /// <summary>The key's state at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="retention">How long a retired key keeps verifying.</param>
    /// <returns>The state.</returns>
    public KeyState GetState(DateTimeOffset now, TimeSpan retention) => Record.GetState(now, retention);

    /// <summary>Generates a new key pair and its stored record, the private key encrypted by <paramref name="protector"/>.</summary>
    internal static SigningKey Generate(
        string algorithm, int rsaKeySize, DateTimeOffset createdAt, DateTimeOffset activatesAt, IKeyProtector protector)
    {
        if (!SigningAlgorithms.IsSupported(algorithm))
        {
            throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not a supported signing algorithm.");
        }

        AsymmetricAlgorithm privateAlgorithm = SigningAlgorithms.IsEcdsa(algorithm)
            ? ECDsa.Create(SigningAlgorithms.CurveFor(algorithm))
            : RSA.Create(Math.Max(rsaKeySize, SigningAlgorithms.MinimumRsaKeySize));
        var publicKeyInfo = privateAlgorithm.ExportSubjectPublicKeyInfo();
        var jwk = PublicJwk.From(algorithm, publicKeyInfo);
        var unsealed = new StoredSigningKey
        {
            KeyId = jwk.KeyId,
            Algorithm = algorithm,
            CreatedAt = createdAt,
            ActivatesAt = activatesAt,
            PublicKey = publicKeyInfo,
            ProtectedPrivateKey = [],
        };
        var pkcs8 = privateAlgorithm.ExportPkcs8PrivateKey();
        StoredSigningKey record;
        try
        {
            record = unsealed with { ProtectedPrivateKey = protector.Protect(pkcs8, AssociatedData(unsealed)) };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }

        return new SigningKey(record, ImportPublic(algorithm, publicKeyInfo, jwk.KeyId), Wrap(privateAlgorithm, jwk.KeyId), jwk);
    }

    /// <summary>
    /// Loads a stored key. The private key is always decrypted, because its authenticated encryption is what
    /// vouches for the whole record (key id, algorithm, public key and every lifecycle timestamp): a record
    /// added, edited or un-revoked by someone without the KEK fails here. The private key is kept in memory only
    /// when <paramref name="keepPrivateKey"/> is set.
    /// </summary>
    /// <exception cref="KeyProtectionException">The record is not authentic, or the keys do not match.</exception>
    internal static SigningKey Load(StoredSigningKey record, IKeyProtector protector, bool keepPrivateKey)
    {
        if (!SigningAlgorithms.IsSupported(record.Algorithm))
        {
            throw new KeyProtectionException($"Stored key '{record.KeyId}' names algorithm '{record.Algorithm}', which Safeguard does not use.");
        }

        var jwk = PublicJwk.From(record.Algorithm, record.PublicKey);
        if (!string.Equals(jwk.KeyId, record.KeyId, StringComparison.Ordinal))
        {
            throw new KeyProtectionException($"Stored key '{record.KeyId}' holds a public key whose thumbprint is '{jwk.KeyId}': the record was altered.");
        }

        AsymmetricSecurityKey? privateKey = null;
        var pkcs8 = protector.Unprotect(record.ProtectedPrivateKey, AssociatedData(record));
        AsymmetricAlgorithm algorithm = SigningAlgorithms.IsEcdsa(record.Algorithm) ? ECDsa.Create() : RSA.Create();
        try
        {
            algorithm.ImportPkcs8PrivateKey(pkcs8, out _);
            if (!algorithm.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(record.PublicKey))
            {
                throw new KeyProtectionException($"Stored key '{record.KeyId}': the private key does not belong to the public key.");
            }

            if (keepPrivateKey)
            {
                privateKey = Wrap(algorithm, record.KeyId);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            if (privateKey is null)
            {
                algorithm.Dispose();
            }
        }

        return new SigningKey(record, ImportPublic(record.Algorithm, record.PublicKey, record.KeyId), privateKey, jwk);
    }

    /// <summary>
    /// Re-encrypts the private key for a record whose lifecycle timestamps changed, so the new timestamps are
    /// authenticated too. <paramref name="current"/> must be the authentic stored record.
    /// </summary>
    internal static StoredSigningKey Reseal(StoredSigningKey current, StoredSigningKey changed, IKeyProtector protector)
    {
        var pkcs8 = protector.Unprotect(current.ProtectedPrivateKey, AssociatedData(current));
        try
        {
            var unsealed = changed with { ProtectedPrivateKey = [] };
            return unsealed with { ProtectedPrivateKey = protector.Protect(pkcs8, AssociatedData(unsealed)) };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>
    /// The associated data a private key is encrypted under: the format, key id, algorithm, every lifecycle
    /// timestamp and the SHA-256 of the public key. Changing any of them without the KEK breaks decryption.
    /// </summary>
    internal static byte[] AssociatedData(StoredSigningKey record)
    {
        static string Ticks(DateTimeOffset? time) => time is { } t ? t.UtcTicks.ToString(CultureInfo.InvariantCulture) : "-";
        var text = string.Join('\0',
            "safeguard/signing-key/v2", record.KeyId, record.Algorithm, Ticks(record.CreatedAt), Ticks(record.ActivatesAt),
            Ticks(record.RetiresAt), Ticks(record.RevokedAt), Convert.ToHexStringLower(SHA256.HashData(record.PublicKey)));
        return Encoding.UTF8.GetBytes(text);
    }

    private static AsymmetricSecurityKey ImportPublic(string algorithm, byte[] publicKeyInfo, string keyId)
    {
        AsymmetricAlgorithm key = SigningAlgorithms.IsEcdsa(algorithm) ? ECDsa.Create() : RSA.Create();
        key.ImportSubjectPublicKeyInfo(publicKeyInfo, out _);
        return Wrap(key, keyId);
    }

    private static AsymmetricSecurityKey Wrap(AsymmetricAlgorithm algorithm, string keyId) => algorithm switch
    {
        ECDsa ecdsa => new ECDsaSecurityKey(ecdsa) { KeyId = keyId },
        RSA rsa => new RsaSecurityKey(rsa) { KeyId = keyId },
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };
}

/// <summary>The public parameters of a key, as the JWKS publishes them: never <c>d</c>, <c>p</c>, <c>q</c>, <c>dp</c>, <c>dq</c>, <c>qi</c>.</summary>
internal sealed class PublicJwk
{
    private PublicJwk(string keyId, string algorithm, string keyType, string? curve, string? x, string? y, string? n, string? e)
    {
        KeyId = keyId;
        Algorithm = algorithm;
        KeyType = keyType;
        Curve = curve;
        X = x;
        Y = y;
        N = n;
        E = e;
    }

    public string KeyId { get; }

    public string Algorithm { get; }

    public string KeyType { get; }

    public string? Curve { get; }

    public string? X { get; }

    public string? Y { get; }

    public string? N { get; }

    public string? E { get; }

    public static PublicJwk From(string algorithm, byte[] subjectPublicKeyInfo)
    {
        if (SigningAlgorithms.IsEcdsa(algorithm))
        {
            using var ecdsa = ECDsa.Create();
            ecdsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
            var parameters = ecdsa.ExportParameters(includePrivateParameters: false);
            var curve = SigningAlgorithms.CurveNameFor(algorithm);
            if (ecdsa.KeySize != (algorithm == SigningAlgorithms.ES256 ? 256 : 384))
            {
                throw new KeyProtectionException($"An {algorithm} key must be on {curve}.");
            }

            var kid = KeyIds.EcThumbprint(curve, parameters.Q.X, parameters.Q.Y);
            return new PublicJwk(kid, algorithm, "EC", curve,
                Base64Url.EncodeToString(parameters.Q.X), Base64Url.EncodeToString(parameters.Q.Y), null, null);
        }

        using var rsa = RSA.Create();
        rsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        if (rsa.KeySize < SigningAlgorithms.MinimumRsaKeySize)
        {
            throw new KeyProtectionException($"An RSA signing key must have at least {SigningAlgorithms.MinimumRsaKeySize} bits; this one has {rsa.KeySize}.");
        }

        var rsaParameters = rsa.ExportParameters(includePrivateParameters: false);
        var rsaKid = KeyIds.RsaThumbprint(rsaParameters.Exponent, rsaParameters.Modulus);
        return new PublicJwk(rsaKid, algorithm, "RSA", null, null, null,
            Base64Url.EncodeToString(KeyIds.TrimLeadingZeros(rsaParameters.Modulus)),
            Base64Url.EncodeToString(KeyIds.TrimLeadingZeros(rsaParameters.Exponent)));
    }

    /// <summary>Writes this key as a JWK object with <c>use: "sig"</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("kty", KeyType);
        writer.WriteString("use", "sig");
        writer.WriteString("alg", Algorithm);
        writer.WriteString("kid", KeyId);
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
}
