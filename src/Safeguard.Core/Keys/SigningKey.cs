using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Safeguard.Keys;

/// <summary>
/// A signing key as the key ring holds it in memory: its lifecycle timestamps, its public key (imported once and
/// kept, since an EC import costs about twice a verify) and, while it is pending or active, its private key.
/// Bound to exactly one algorithm. Disposing it frees both halves; the key ring disposes keys it no longer holds.
/// </summary>
public sealed class SigningKey : IDisposable
{
    private readonly AsymmetricAlgorithm? _privateAlgorithm;
    private bool _publicHandedOver;
    private bool _privateHandedOver;

    private SigningKey(StoredSigningKey record, JwkPublicKey publicKey, AsymmetricAlgorithm? privateAlgorithm)
    {
        Record = record;
        PublicKey = publicKey;
        _privateAlgorithm = privateAlgorithm;
        if (privateAlgorithm is not null)
        {
            SigningCredentials = new SigningCredentials(Wrap(privateAlgorithm, record.KeyId), record.Algorithm);
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

    /// <summary>The public key: verifies signatures (thread-safe, imported once) and writes the JWKS entry.</summary>
    public JwkPublicKey PublicKey { get; }

    /// <summary>Signs tokens; null unless the private key was loaded.</summary>
    internal SigningCredentials? SigningCredentials { get; }

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
        var publicKey = JwkPublicKey.FromSubjectPublicKeyInfo(algorithm, publicKeyInfo);
        var unsealed = new StoredSigningKey
        {
            KeyId = publicKey.Thumbprint,
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

        return new SigningKey(record, publicKey, privateAlgorithm);
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

        var publicKey = JwkPublicKey.FromSubjectPublicKeyInfo(record.Algorithm, record.PublicKey);
        AsymmetricAlgorithm? kept = null;
        try
        {
            if (!string.Equals(publicKey.Thumbprint, record.KeyId, StringComparison.Ordinal))
            {
                throw new KeyProtectionException($"Stored key '{record.KeyId}' holds a public key whose thumbprint is '{publicKey.Thumbprint}': the record was altered.");
            }

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
                    kept = algorithm;
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(pkcs8);
                if (kept is null)
                {
                    algorithm.Dispose();
                }
            }

            return new SigningKey(record, publicKey, kept);
        }
        catch
        {
            publicKey.Dispose();
            kept?.Dispose();
            throw;
        }
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

    /// <summary>
    /// The same key under a changed record (new lifecycle timestamps: a successor set its retirement, a revocation):
    /// the record is authenticated exactly as <see cref="Load"/> does, but the keys already imported are handed over to
    /// the new object instead of being imported again. Signature providers cached for this key (IdentityModel caches
    /// them by key id) so keep a live key. This object then no longer owns what it handed over.
    /// </summary>
    /// <exception cref="KeyProtectionException">The record is not authentic.</exception>
    internal SigningKey Refresh(StoredSigningKey record, IKeyProtector protector, bool keepPrivateKey)
    {
        if (!string.Equals(record.KeyId, KeyId, StringComparison.Ordinal) || !string.Equals(record.Algorithm, Algorithm, StringComparison.Ordinal)
            || !record.PublicKey.AsSpan().SequenceEqual(Record.PublicKey) || (keepPrivateKey && _privateAlgorithm is null))
        {
            return Load(record, protector, keepPrivateKey);
        }

        // Authenticate the new record: its sealed private key must decrypt under its own associated data and be the
        // private half of the public key this object already holds.
        var pkcs8 = protector.Unprotect(record.ProtectedPrivateKey, AssociatedData(record));
        try
        {
            using var check = SigningAlgorithms.IsEcdsa(record.Algorithm) ? (AsymmetricAlgorithm)ECDsa.Create() : RSA.Create();
            check.ImportPkcs8PrivateKey(pkcs8, out _);
            if (!check.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(record.PublicKey))
            {
                throw new KeyProtectionException($"Stored key '{record.KeyId}': the private key does not belong to the public key.");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }

        var handedPrivate = keepPrivateKey ? _privateAlgorithm : null;
        _publicHandedOver = true;
        _privateHandedOver = handedPrivate is not null;
        return new SigningKey(record, PublicKey, handedPrivate);
    }

    /// <summary>
    /// A verification-only key an issuer publishes in its JWKS (what a resource server trusts): no private key, active
    /// from when it was learned. The key id is the key's RFC 7638 thumbprint, as Safeguard's issuers name their keys.
    /// </summary>
    /// <param name="publicKey">The public key (owned by the result).</param>
    /// <param name="algorithm">The algorithm it is bound to.</param>
    /// <param name="learnedAt">When it was read from the JWKS.</param>
    /// <returns>The key.</returns>
    public static SigningKey FromPublishedKey(JwkPublicKey publicKey, string algorithm, DateTimeOffset learnedAt)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        ArgumentException.ThrowIfNullOrEmpty(algorithm);
        var record = new StoredSigningKey
        {
            KeyId = publicKey.Thumbprint,
            Algorithm = algorithm,
            CreatedAt = learnedAt,
            ActivatesAt = learnedAt,
            PublicKey = [],
            ProtectedPrivateKey = [],
        };
        return new SigningKey(record, publicKey, null);
    }

    /// <summary>Frees the key material this object still owns.</summary>
    public void Dispose()
    {
        if (!_publicHandedOver)
        {
            PublicKey.Dispose();
        }

        if (!_privateHandedOver)
        {
            _privateAlgorithm?.Dispose();
        }
    }

    private static AsymmetricSecurityKey Wrap(AsymmetricAlgorithm algorithm, string keyId) => algorithm switch
    {
        ECDsa ecdsa => new ECDsaSecurityKey(ecdsa) { KeyId = keyId },
        RSA rsa => new RsaSecurityKey(rsa) { KeyId = keyId },
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };
}
