using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>
/// The audit key: an ES256 key used only to sign audit checkpoints, never tokens, kept in its own store outside
/// the audit database (its private key encrypted like the token keys). Public keys are never purged, so
/// checkpoints stay verifiable for the whole retention period.
/// </summary>
public sealed class AuditSigningKeys : IDisposable
{
    private readonly ISigningKeyStore _store;
    private readonly IKeyProtector _protector;
    private readonly TimeProvider _time;
    private readonly List<SigningKey> _loaded = [];
    private IReadOnlyList<SigningKey> _trusted = [];
    private SigningKey? _current;

    /// <summary>Creates the audit key set over its own store.</summary>
    /// <param name="store">The audit key store (not the token key store).</param>
    /// <param name="protector">Encrypts the private key at rest.</param>
    /// <param name="timeProvider">The clock.</param>
    public AuditSigningKeys(ISigningKeyStore store, IKeyProtector protector, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _protector = protector;
        _time = timeProvider;
    }

    /// <summary>The key that signs checkpoints; null before <see cref="LoadAsync"/>.</summary>
    public SigningKey? Current => _current;

    /// <summary>Every unrevoked audit public key: the keys checkpoints are verified with.</summary>
    public IReadOnlyList<SigningKey> Trusted => _trusted;

    /// <summary>
    /// Loads the audit keys. With <paramref name="createIfMissing"/> (a writer) the first key is created if there
    /// is none and the newest key's private half is decrypted for signing; without it (a verifier) only the
    /// trusted public keys are refreshed, and a signing key already loaded stays loaded.
    /// </summary>
    /// <param name="createIfMissing">False for a verifier, which must never mint a key of its own.</param>
    /// <param name="cancellationToken">Cancels the store I/O.</param>
    /// <returns>A task that completes when loaded.</returns>
    public async Task LoadAsync(bool createIfMissing, CancellationToken cancellationToken)
    {
        var records = (await _store.GetAllAsync(cancellationToken).ConfigureAwait(false))
            .Where(r => r.RevokedAt is null)
            .OrderBy(r => r.ActivatesAt)
            .ToList();
        if (records.Count == 0 && createIfMissing)
        {
            var now = _time.GetUtcNow();
            using var created = SigningKey.Generate(SigningAlgorithms.ES256, 0, now, now, _protector);
            await _store.AddAsync(created.Record, cancellationToken).ConfigureAwait(false);
            records.Add(created.Record);
        }

        var keys = new List<SigningKey>(records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            // Only the newest key's private half is decrypted: older ones only verify.
            keys.Add(SigningKey.Load(records[i], _protector, keepPrivateKey: createIfMissing && i == records.Count - 1));
        }

        // Keys of an earlier load stay alive (a signing key already loaded stays in use) until this set is disposed.
        _loaded.AddRange(keys);
        _trusted = keys;
        if (createIfMissing)
        {
            _current = keys.Count > 0 && keys[^1].HasPrivateKey ? keys[^1] : null;
        }
    }

    /// <summary>Frees every key loaded.</summary>
    public void Dispose()
    {
        foreach (var key in _loaded)
        {
            key.Dispose();
        }

        _loaded.Clear();
        _trusted = [];
        _current = null;
    }
}

/// <summary>Signs and verifies audit checkpoints: JWS with their own <c>typ</c>, so no token can pass as a checkpoint or the reverse.</summary>
public static class AuditCheckpoints
{
    /// <summary>The checkpoint's JWS <c>typ</c>.</summary>
    public const string TokenType = "safeguard-audit-checkpoint+jwt";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Signs a checkpoint over a chain head.</summary>
    /// <param name="key">The audit key (with its private key).</param>
    /// <param name="chain">The chain.</param>
    /// <param name="sequence">The head's sequence number.</param>
    /// <param name="headHash">The head's hash.</param>
    /// <param name="from">The first sequence number under <paramref name="root"/>.</param>
    /// <param name="root">The RFC 6962 Merkle root over events <paramref name="from"/>..<paramref name="sequence"/>.</param>
    /// <param name="time">The signing time.</param>
    /// <returns>The checkpoint.</returns>
    public static AuditCheckpoint Sign(SigningKey key, string chain, long sequence, ReadOnlySpan<byte> headHash, long from, ReadOnlySpan<byte> root, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.SigningCredentials is null)
        {
            throw new InvalidOperationException("The audit key's private key is not loaded.");
        }

        var at = DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());
        var descriptor = new SecurityTokenDescriptor
        {
            TokenType = TokenType,
            IssuedAt = at.UtcDateTime,
            SigningCredentials = key.SigningCredentials,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["chain"] = chain,
                ["seq"] = sequence,
                ["head"] = Base64UrlEncoder.Encode(headHash.ToArray()),
                ["from"] = from,
                ["root"] = Base64UrlEncoder.Encode(root.ToArray()),
            },
        };
        return new AuditCheckpoint
        {
            Chain = chain,
            Sequence = sequence,
            HeadHash = headHash.ToArray(),
            Time = at,
            From = from,
            Root = root.ToArray(),
            Jws = Handler.CreateToken(descriptor),
        };
    }

    /// <summary>
    /// Verifies an audit-key JWS (a checkpoint, an archive manifest) under its policy: signed by one of the trusted
    /// audit keys, chosen by <c>kid</c>, with exactly its <c>typ</c>; no issuer, audience or lifetime, since these
    /// are statements about the past, not credentials. The payload is returned only from a valid signature.
    /// </summary>
    internal static bool TryVerify(string? jws, JwsPolicy policy, IReadOnlyList<SigningKey> trusted, out VerifiedJws verified) =>
        JwsVerifier.Verify(jws, policy, [.. trusted.Select(k => k.PublicKey)], out verified) == JwsError.None;

    /// <summary>
    /// Verifies a checkpoint's signature with the trusted audit keys and reads what it states. The stated values
    /// are returned only from a valid signature; the caller compares them with the chain.
    /// </summary>
    /// <param name="jws">The checkpoint JWS.</param>
    /// <param name="trusted">The trusted audit public keys.</param>
    /// <returns>The signed statement, or null if the signature, type, key or content is not valid.</returns>
    public static AuditCheckpoint? Verify(string? jws, IReadOnlyList<SigningKey> trusted)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        if (!TryVerify(jws, JwsPolicies.AuditCheckpoint, trusted, out var verified))
        {
            return null;
        }

        using (verified)
        {
            var root = verified.Payload.Root;
            if (StrictJson.GetString(root, "chain") is not { } chain
                || !TryGetInt64(root, "seq", out var sequence)
                || !TryGetBytes(root, "head", out var head))
            {
                return null;
            }

            return new AuditCheckpoint
            {
                Chain = chain,
                Sequence = sequence,
                HeadHash = head,
                Time = TryGetInt64(root, "iat", out var iat) && iat is >= 0 and < 32503680000 ? DateTimeOffset.FromUnixTimeSeconds(iat) : default,
                From = TryGetInt64(root, "from", out var from) ? from : 0,
                Root = TryGetBytes(root, "root", out var merkleRoot) ? merkleRoot : [],
                Jws = jws!,
            };
        }
    }

    private static bool TryGetInt64(JsonElement element, string name, out long value)
    {
        value = 0;
        return element.TryGetProperty(name, out var member) && member.ValueKind == JsonValueKind.Number && member.TryGetInt64(out value);
    }

    private static bool TryGetBytes(JsonElement element, string name, out byte[] value)
    {
        value = [];
        if (StrictJson.GetString(element, name) is not { } text || !JwsReader.IsBase64Url(text))
        {
            return false;
        }

        value = JwsReader.DecodeSegment(text);
        return true;
    }
}
