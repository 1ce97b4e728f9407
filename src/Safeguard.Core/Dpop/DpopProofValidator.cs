using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Safeguard.Keys;

namespace Safeguard.Dpop;

/// <summary>The outcome of checking a DPoP proof. <c>default</c> is a failure.</summary>
/// <param name="JwkThumbprint">The RFC 7638 thumbprint of the proof's key (what <c>cnf.jkt</c> carries); null on failure.</param>
/// <param name="ErrorCode">An <c>SG31xx</c> code on failure; null on success.</param>
/// <param name="Description">What failed, for the client's <c>error_description</c> and the audit trail.</param>
public readonly record struct DpopProofResult(string? JwkThumbprint, string? ErrorCode, string? Description)
{
    /// <summary>True only for a proof that passed every check.</summary>
    public bool Succeeded => JwkThumbprint is not null && ErrorCode is null;

    /// <summary>True when the client should retry with the nonce the server sends (<c>use_dpop_nonce</c>).</summary>
    public bool NeedsNonce => ErrorCode == SafeguardErrorCodes.DpopNonceInvalid;

    internal static DpopProofResult Fail(string code, string description) => new(null, code, description);
}

/// <summary>A proof that passed (or failed) every stateless check; <see cref="DpopProofValidator.ConsumeAsync"/> finishes it.</summary>
/// <param name="Result">The outcome so far.</param>
/// <param name="IssuedAt">The proof's <c>iat</c>.</param>
/// <param name="TokenId">The proof's <c>jti</c>.</param>
public readonly record struct DpopProofCheck(DpopProofResult Result, DateTimeOffset IssuedAt, string? TokenId);

/// <summary>
/// Checks DPoP proofs (RFC 9449 section 4.3) in one linear method: size, strict parse (no duplicate members),
/// <c>typ</c> <c>dpop+jwt</c>, an allowed asymmetric <c>alg</c>, a public <c>jwk</c> of adequate strength, the
/// signature under that <c>jwk</c>, <c>htm</c> and <c>htu</c>, the <c>iat</c> window, the server nonce, <c>ath</c>
/// when an access token accompanies the proof, and finally the <c>jti</c> replay cache (last, so that only
/// proofs that passed everything else take a cache entry).
/// </summary>
public sealed class DpopProofValidator
{
    /// <summary>The <c>typ</c> of a DPoP proof.</summary>
    public const string ProofType = "dpop+jwt";

    private const string ReplayPurpose = "dpop";
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 8 };
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    private readonly IReplayCache _replay;
    private readonly DpopNonces _nonces;
    private readonly DpopOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates a validator.</summary>
    /// <param name="replay">The shared replay cache.</param>
    /// <param name="nonces">The server nonce source.</param>
    /// <param name="options">Algorithms, time window, nonce policy.</param>
    /// <param name="timeProvider">The clock.</param>
    public DpopProofValidator(IReplayCache replay, DpopNonces nonces, IOptions<DpopOptions> options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(replay);
        ArgumentNullException.ThrowIfNull(nonces);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _replay = replay;
        _nonces = nonces;
        _options = OptionsGuard.Validated(new DpopOptionsValidator(), options);
        _time = timeProvider;
    }

    /// <summary>The validator's settings.</summary>
    public DpopOptions Options => _options;

    /// <summary>The nonce to send in a <c>DPoP-Nonce</c> header now.</summary>
    /// <returns>The nonce.</returns>
    public string CurrentNonce() => _nonces.Current();

    /// <summary>Checks one proof and records its <c>jti</c>: <see cref="Verify"/> then <see cref="ConsumeAsync"/>.</summary>
    /// <param name="proof">The <c>DPoP</c> header value (exactly one was sent; the caller checks that).</param>
    /// <param name="method">The request's HTTP method.</param>
    /// <param name="targetUri">The request's external URI, without query and fragment.</param>
    /// <param name="accessToken">The access token sent with the proof (resource requests); null at the token endpoint.</param>
    /// <param name="cancellationToken">Cancels the replay-cache write.</param>
    /// <returns>The key thumbprint, or the first check that failed.</returns>
    public async ValueTask<DpopProofResult> ValidateAsync(
        string? proof, string method, Uri targetUri, string? accessToken, CancellationToken cancellationToken) =>
        await ConsumeAsync(Verify(proof, method, targetUri, accessToken), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Every check except replay, without touching any store, so a caller can refuse an unauthenticated request
    /// before it costs a write. A verified proof is not accepted until <see cref="ConsumeAsync"/> records it.
    /// </summary>
    /// <param name="proof">The <c>DPoP</c> header value.</param>
    /// <param name="method">The request's HTTP method.</param>
    /// <param name="targetUri">The request's external URI, without query and fragment.</param>
    /// <param name="accessToken">The access token sent with the proof; null at the token endpoint.</param>
    /// <returns>The verified proof, or the first check that failed.</returns>
    public DpopProofCheck Verify(string? proof, string method, Uri targetUri, string? accessToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(targetUri);
        var (result, issuedAt, tokenId) = Check(proof, method, targetUri, accessToken);
        return new DpopProofCheck(result, issuedAt, tokenId);
    }

    /// <summary>Records a verified proof's <c>jti</c> (per key) in the shared replay cache; a second use fails.</summary>
    /// <param name="check">What <see cref="Verify"/> returned.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The proof's result, or <see cref="SafeguardErrorCodes.DpopReplayed"/>.</returns>
    public async ValueTask<DpopProofResult> ConsumeAsync(DpopProofCheck check, CancellationToken cancellationToken)
    {
        if (!check.Result.Succeeded)
        {
            return check.Result;
        }

        // The jti is remembered per key until the proof would fail its iat check anyway.
        var keepUntil = check.IssuedAt + _options.ProofMaxAge + _options.ClockSkew;
        var fresh = await _replay.TryAddAsync(ReplayPurpose, check.Result.JwkThumbprint + ":" + check.TokenId, keepUntil, cancellationToken)
            .ConfigureAwait(false);
        return fresh ? check.Result : DpopProofResult.Fail(SafeguardErrorCodes.DpopReplayed, "The DPoP proof was used before.");
    }

    private (DpopProofResult Result, DateTimeOffset IssuedAt, string? TokenId) Check(string? proof, string method, Uri targetUri, string? accessToken)
    {
        // 1. Size and shape.
        if (string.IsNullOrEmpty(proof))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopProofMissing, "No DPoP proof was sent."), default, null);
        }

        if (proof.Length > _options.MaxProofSize || !Ascii.IsValid(proof))
        {
            return (Malformed("The DPoP proof is too large or not ASCII."), default, null);
        }

        var parts = proof.Split('.');
        if (parts.Length != 3 || parts[2].Length == 0)
        {
            return (Malformed("The DPoP proof is not a signed JWT (three segments)."), default, null);
        }

        JsonDocument? header = null;
        JsonDocument? payload = null;
        try
        {
            header = ParseSegment(parts[0]);
            payload = ParseSegment(parts[1]);
            if (header is null || payload is null)
            {
                return (Malformed("The DPoP proof's header or payload is not a JSON object (or has a duplicate member)."), default, null);
            }

            return CheckParsed(header.RootElement, payload.RootElement, parts, method, targetUri, accessToken);
        }
        catch (InvalidOperationException)
        {
            // A string member that is not valid UTF-16 once unescaped (a lone surrogate such as "\udc00").
            return (Malformed("The DPoP proof has a member that is not a valid string."), default, null);
        }
        finally
        {
            header?.Dispose();
            payload?.Dispose();
        }
    }

    private (DpopProofResult Result, DateTimeOffset IssuedAt, string? TokenId) CheckParsed(
        JsonElement header, JsonElement payload, string[] parts, string method, Uri targetUri, string? accessToken)
    {
        // 2. typ, alg, no critical extensions, no key references.
        if (GetString(header, "typ") != ProofType)
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopTypeInvalid, "The DPoP proof's typ is not dpop+jwt."), default, null);
        }

        var algorithm = GetString(header, "alg");
        if (algorithm is null || !_options.Algorithms.Contains(algorithm, StringComparer.Ordinal))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopAlgorithmNotAllowed, "The DPoP proof's alg is not allowed."), default, null);
        }

        if (header.TryGetProperty("crit", out _) || header.TryGetProperty("jku", out _) || header.TryGetProperty("x5u", out _)
            || header.TryGetProperty("x5c", out _))
        {
            return (Malformed("The DPoP proof carries crit or a key reference (jku, x5u, x5c)."), default, null);
        }

        // 3. The jwk: public, supported, strong enough, matching the algorithm.
        if (!header.TryGetProperty("jwk", out var jwk) || jwk.ValueKind != JsonValueKind.Object)
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopKeyInvalid, "The DPoP proof has no jwk."), default, null);
        }

        foreach (var member in PrivateMembers)
        {
            if (jwk.TryGetProperty(member, out _))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopKeyInvalid, "The DPoP proof's jwk carries private key material."), default, null);
            }
        }

        using var key = ProofKey.Create(jwk, algorithm);
        if (key is null)
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopKeyInvalid, "The DPoP proof's jwk is not a supported public key for its alg."), default, null);
        }

        // 4. Signature.
        if (!key.Verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), parts[2]))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopSignatureInvalid, "The DPoP proof's signature does not verify."), default, null);
        }

        // 5. htm and htu (RFC 9449 section 4.3, items 8 and 9).
        var jti = GetString(payload, "jti");
        if (jti is null || jti.Length is 0 or > 256)
        {
            return (Malformed("The DPoP proof has no usable jti."), default, null);
        }

        if (!string.Equals(GetString(payload, "htm"), method, StringComparison.Ordinal))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopTargetMismatch, "The DPoP proof's htm is not this request's method."), default, null);
        }

        if (!TargetMatches(GetString(payload, "htu"), targetUri))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopTargetMismatch, "The DPoP proof's htu is not this endpoint's URL."), default, null);
        }

        // 6. iat window.
        if (!payload.TryGetProperty("iat", out var iatElement) || iatElement.ValueKind != JsonValueKind.Number
            || !iatElement.TryGetInt64(out var iat) || iat is < 0 or > 32503680000)
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopIssuedAtInvalid, "The DPoP proof has no valid iat."), default, null);
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(iat);
        var now = _time.GetUtcNow();
        if (issuedAt > now + _options.ClockSkew || issuedAt < now - _options.ProofMaxAge - _options.ClockSkew)
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopIssuedAtInvalid, "The DPoP proof's iat is outside the accepted window."), default, null);
        }

        // 7. Server nonce.
        if (_options.RequireNonce && !_nonces.IsValid(GetString(payload, "nonce")))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopNonceInvalid, "Use the DPoP nonce the server provided."), default, null);
        }

        // 8. ath: the hash of the access token the proof accompanies.
        if (accessToken is not null)
        {
            var expected = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
            var ath = GetString(payload, "ath");
            if (ath is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(ath), Encoding.ASCII.GetBytes(expected)))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopAccessTokenHashInvalid, "The DPoP proof's ath does not match the access token."), default, null);
            }
        }

        return (new DpopProofResult(key.Thumbprint, null, null), issuedAt, jti);
    }

    private static DpopProofResult Malformed(string description) => DpopProofResult.Fail(SafeguardErrorCodes.DpopProofMalformed, description);

    private static JsonDocument? ParseSegment(string segment)
    {
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(segment);
        }
        catch (FormatException)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(bytes, StrictJson);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>RFC 9449 section 4.3 item 9: htu matches the request URI without query and fragment (RFC 3986 normalization).</summary>
    private static bool TargetMatches(string? htu, Uri target)
    {
        if (htu is null || !Uri.TryCreate(htu, UriKind.Absolute, out var presented) || presented.Scheme != Uri.UriSchemeHttps)
        {
            return false;
        }

        return Uri.Compare(
            presented, target, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped, StringComparison.Ordinal) == 0;
    }

    /// <summary>A proof's public key, imported from its jwk for one verification.</summary>
    private sealed class ProofKey : IDisposable
    {
        private readonly ECDsa? _ec;
        private readonly RSA? _rsa;
        private readonly string _algorithm;

        private ProofKey(ECDsa? ec, RSA? rsa, string algorithm, string thumbprint)
        {
            _ec = ec;
            _rsa = rsa;
            _algorithm = algorithm;
            Thumbprint = thumbprint;
        }

        public string Thumbprint { get; }

        public static ProofKey? Create(JsonElement jwk, string algorithm)
        {
            var kty = GetString(jwk, "kty");
            try
            {
                if (kty == "EC" && algorithm is "ES256" or "ES384")
                {
                    var (curveName, curve, size) = algorithm == "ES256"
                        ? ("P-256", ECCurve.NamedCurves.nistP256, 32)
                        : ("P-384", ECCurve.NamedCurves.nistP384, 48);
                    if (GetString(jwk, "crv") != curveName)
                    {
                        return null;
                    }

                    var x = Base64Url.DecodeFromChars(GetString(jwk, "x"));
                    var y = Base64Url.DecodeFromChars(GetString(jwk, "y"));
                    if (x.Length != size || y.Length != size)
                    {
                        return null;
                    }

                    var ec = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
                    return new ProofKey(ec, null, algorithm, KeyIds.EcThumbprint(curveName, x, y));
                }

                if (kty == "RSA" && algorithm is "PS256" or "RS256")
                {
                    var n = Base64Url.DecodeFromChars(GetString(jwk, "n"));
                    var e = Base64Url.DecodeFromChars(GetString(jwk, "e"));
                    var modulus = KeyIds.TrimLeadingZeros(n);
                    if (modulus.Length < 256 || modulus.Length > 1024 || e.Length is 0 or > 8)
                    {
                        return null;
                    }

                    var rsa = RSA.Create(new RSAParameters { Modulus = modulus.ToArray(), Exponent = KeyIds.TrimLeadingZeros(e).ToArray() });
                    return new ProofKey(null, rsa, algorithm, KeyIds.RsaThumbprint(e, n));
                }
            }
            catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
            {
                return null;
            }

            return null;
        }

        public bool Verify(byte[] signingInput, string signatureSegment)
        {
            byte[] signature;
            try
            {
                signature = Base64Url.DecodeFromChars(signatureSegment);
            }
            catch (FormatException)
            {
                return false;
            }

            try
            {
                return _algorithm switch
                {
                    "ES256" => signature.Length == 64 && _ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256),
                    "ES384" => signature.Length == 96 && _ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA384),
                    "RS256" => _rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                    "PS256" => _rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
                    _ => false,
                };
            }
            catch (CryptographicException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _ec?.Dispose();
            _rsa?.Dispose();
        }
    }
}
