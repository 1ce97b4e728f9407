using System.Diagnostics.CodeAnalysis;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Dpop;

/// <summary>The outcome of checking a DPoP proof. <c>default</c> is a failure.</summary>
/// <param name="JwkThumbprint">The RFC 7638 thumbprint of the proof's key (what <c>cnf.jkt</c> carries); null on failure.</param>
/// <param name="ErrorCode">An <c>SG31xx</c> code on failure; null on success.</param>
/// <param name="Description">What failed, for the client's <c>error_description</c> and the audit trail.</param>
public readonly record struct DpopProofResult(string? JwkThumbprint, string? ErrorCode, string? Description)
{
    /// <summary>True only for a proof that passed every check.</summary>
    [MemberNotNullWhen(true, nameof(JwkThumbprint))]
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
    /// <summary>The largest RSA key a DPoP proof may carry, in bits: verifying under a bigger one costs a flood's worth of CPU per proof.</summary>
    public const int MaximumRsaKeySize = 4096;

    /// <summary>The <c>typ</c> of a DPoP proof.</summary>
    public const string ProofType = "dpop+jwt";

    private const string ReplayPurpose = "dpop";

    private readonly IReplayCache _replay;
    private readonly DpopNonces _nonces;
    private readonly DpopOptions _options;
    private readonly JwsPolicy _policy;
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
        _policy = JwsPolicies.DpopProof.Narrow(_options.Algorithms, _options.MaxProofSize);
        _time = timeProvider;
    }

    /// <summary>The validator's settings.</summary>
    public DpopOptions Options => _options;

    /// <summary>The algorithms proofs may use (what discovery advertises as <c>dpop_signing_alg_values_supported</c>).</summary>
    public IReadOnlyList<string> Algorithms => _policy.Algorithms;

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

        // The jti is remembered per key until the proof would fail its iat check anyway, and a margin for other nodes' clocks.
        var keepUntil = check.IssuedAt + _options.ProofMaxAge + _options.ClockSkew + SafeguardLimits.ReplayRetentionMargin;
        var fresh = await _replay.TryAddAsync(ReplayPurpose, check.Result.JwkThumbprint + ":" + check.TokenId, keepUntil, cancellationToken)
            .ConfigureAwait(false);
        return fresh ? check.Result : DpopProofResult.Fail(SafeguardErrorCodes.DpopReplayed, "The DPoP proof was used before.");
    }

    private (DpopProofResult Result, DateTimeOffset IssuedAt, string? TokenId) Check(string? proof, string method, Uri targetUri, string? accessToken)
    {
        // 1 and 2. Size, shape and header policy (JwsPolicies.DpopProof narrowed by the options): canonical
        // base64url, strict JSON, alg on the asymmetric allow-list, no crit, no key URL, a jwk in the header.
        var error = JwsReader.Read<JsonPayload>(proof, _policy, out var header, out var payload, out var segments);
        if (error != JwsError.None)
        {
            return (DpopProofResult.Fail(CodeOf(error), DescriptionOf(error)), default, null);
        }

        using (payload)
        {
            // 3. typ.
            if (!_policy.AllowsType(header.Type))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopTypeInvalid, "The DPoP proof's typ is not dpop+jwt."), default, null);
            }

            // 4. The jwk: public, supported, strong enough, fitting the algorithm; then the signature under it.
            using var key = JwkPublicKey.FromJwk(header.EmbeddedKey, out var problem);
            if (key is null || !key.Fits(header.Algorithm))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopKeyInvalid, "The DPoP proof's jwk is not a supported public key for its alg" + (problem is null ? "." : $": {problem}.")), default, null);
            }

            // Anyone can send a proof, so its key must not make the verify expensive: RSA 2048 to 4096 bits, e = 65537.
            if (key.RsaKeySize is { } bits && (bits > MaximumRsaKeySize || !key.HasStandardRsaExponent))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopKeyInvalid, $"The DPoP proof's RSA jwk must be 2048 to {MaximumRsaKeySize} bits with exponent 65537 (AQAB)."), default, null);
            }

            if (!JwsVerifier.VerifySignature(proof!, header.Algorithm, segments, key))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopSignatureInvalid, "The DPoP proof's signature does not verify."), default, null);
            }

            return CheckClaims(payload.Root, key.Thumbprint, method, targetUri, accessToken);
        }
    }

    private (DpopProofResult Result, DateTimeOffset IssuedAt, string? TokenId) CheckClaims(
        JsonElement payload, string thumbprint, string method, Uri targetUri, string? accessToken)
    {
        // 5. jti, htm and htu (RFC 9449 section 4.3, items 8 and 9).
        var jti = StrictJson.GetString(payload, "jti");
        if (jti is null || jti.Length is 0 or > 256)
        {
            return (Malformed("The DPoP proof has no usable jti."), default, null);
        }

        if (!string.Equals(StrictJson.GetString(payload, "htm"), method, StringComparison.Ordinal))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopTargetMismatch, "The DPoP proof's htm is not this request's method."), default, null);
        }

        if (!TargetMatches(StrictJson.GetString(payload, "htu"), targetUri))
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
        if (_options.RequireNonce && !_nonces.IsValid(StrictJson.GetString(payload, "nonce")))
        {
            return (DpopProofResult.Fail(SafeguardErrorCodes.DpopNonceInvalid, "Use the DPoP nonce the server provided."), default, null);
        }

        // 8. ath: the hash of the access token the proof accompanies.
        if (accessToken is not null)
        {
            var expected = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
            var ath = StrictJson.GetString(payload, "ath");
            if (ath is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(ath), Encoding.ASCII.GetBytes(expected)))
            {
                return (DpopProofResult.Fail(SafeguardErrorCodes.DpopAccessTokenHashInvalid, "The DPoP proof's ath does not match the access token."), default, null);
            }
        }

        return (new DpopProofResult(thumbprint, null, null), issuedAt, jti);
    }

    private static DpopProofResult Malformed(string description) => DpopProofResult.Fail(SafeguardErrorCodes.DpopProofMalformed, description);

    /// <summary>The DPoP code for each way a proof fails its JWS policy.</summary>
    private static string CodeOf(JwsError error) => error switch
    {
        JwsError.Missing => SafeguardErrorCodes.DpopProofMissing,
        JwsError.AlgorithmNotAllowed => SafeguardErrorCodes.DpopAlgorithmNotAllowed,
        JwsError.EmbeddedKeyMissing => SafeguardErrorCodes.DpopKeyInvalid,
        _ => SafeguardErrorCodes.DpopProofMalformed,
    };

    private static string DescriptionOf(JwsError error) => error switch
    {
        JwsError.Missing => "No DPoP proof was sent.",
        JwsError.TooLarge => "The DPoP proof is too large.",
        JwsError.AlgorithmNotAllowed => "The DPoP proof's alg is not allowed.",
        JwsError.EmbeddedKeyMissing => "The DPoP proof has no jwk.",
        JwsError.CriticalHeader or JwsError.KeyReference => "The DPoP proof carries crit or a key reference (jku, x5u, x5c).",
        JwsError.DuplicateMember => "The DPoP proof's header or payload names a member twice.",
        _ => "The DPoP proof is not a well-formed signed JWT.",
    };

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
}
