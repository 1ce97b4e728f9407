using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>
/// Verifies RFC 9068 access tokens under RFC 8725. One method, <see cref="Validate"/>, walks the whole policy
/// top to bottom: size, parse, header policy, key by <c>kid</c>, signature, <c>typ</c>, required claims,
/// <c>iss</c>, <c>aud</c>, lifetime, revocation. The first failed step names its <c>SG1xxx</c> code. Nothing in
/// the token can choose key material or cause a network request.
/// </summary>
public sealed partial class AccessTokenValidator : IDisposable
{
    private readonly IVerificationKeySource _keys;
    private readonly IAccessTokenRevocationList? _revocations;
    private readonly AccessTokenValidationOptions _options;
    private readonly JwsPolicy _policy;
    private readonly FrozenSet<string> _audiences;
    private readonly TimeProvider _time;
    private readonly ILogger<AccessTokenValidator> _logger;
    private readonly VerifiedTokenCache? _cache;

    /// <summary>Creates a validator.</summary>
    /// <param name="keys">The trusted keys (the key ring, or a resource server's JWKS).</param>
    /// <param name="options">Issuer, audiences and limits.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The operational log: codes and token ids, never tokens.</param>
    /// <param name="revocations">Revoked token ids; null when this deployment has none to consult.</param>
    public AccessTokenValidator(
        IVerificationKeySource keys,
        IOptions<AccessTokenValidationOptions> options,
        TimeProvider timeProvider,
        ILogger<AccessTokenValidator> logger,
        IAccessTokenRevocationList? revocations = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _keys = keys;
        _options = OptionsGuard.Validated(new AccessTokenValidationOptionsValidator(), options);
        _policy = JwsPolicies.AccessToken.Narrow(_options.ValidAlgorithms, _options.MaxTokenSize);
        _audiences = _options.Audiences.ToFrozenSet(StringComparer.Ordinal);
        _time = timeProvider;
        _logger = logger;
        _revocations = revocations;
        if (_options.CacheVerifiedTokens)
        {
            _cache = new VerifiedTokenCache(_options.CacheSize, _options.ClockSkew);
            _keys.KeyRevoked += OnKeyRevoked;
        }
    }

    /// <summary>How many verified tokens are cached now.</summary>
    public int CachedTokenCount => _cache?.Count ?? 0;

    /// <summary>Validates an access token presented to this resource server.</summary>
    /// <param name="token">The compact JWS, as presented (without the <c>Bearer</c> prefix).</param>
    /// <returns>The claims, or the code of the first check that failed.</returns>
    public TokenValidationResult Validate(string? token) => ValidateCore(token, checkAudience: true);

    /// <summary>
    /// The authorization server's check of a token it issued, for its introspection and revocation endpoints: every
    /// step of <see cref="Validate(string?)"/> except the audience, which those endpoints match against their
    /// authenticated caller instead.
    /// </summary>
    /// <param name="token">The compact JWS.</param>
    /// <returns>The claims, or the code of the first check that failed.</returns>
    public TokenValidationResult ValidateIssuedToken(string? token) => ValidateCore(token, checkAudience: false);

    private TokenValidationResult ValidateCore(string? token, bool checkAudience)
    {
        // 1. Size, before anything reads the token.
        if (string.IsNullOrEmpty(token))
        {
            return Fail(SafeguardErrorCodes.TokenMissing);
        }

        if (token.Length > _options.MaxTokenSize)
        {
            return Fail(SafeguardErrorCodes.TokenTooLarge);
        }

        // A JWS compact serialization is ASCII; the bytes are made once, for the cache key and the signature.
        if (!Ascii.IsValid(token))
        {
            return Fail(SafeguardErrorCodes.TokenMalformed);
        }

        var bytes = ArrayPool<byte>.Shared.Rent(token.Length);
        try
        {
            Ascii.FromUtf16(token, bytes, out _);
            return ValidateAscii(token, bytes, checkAudience);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private TokenValidationResult ValidateAscii(string token, byte[] ascii, bool checkAudience)
    {
        // A token verified before skips steps 2 to 5 only if its key is still trusted; steps 6 to 11 run always.
        var hash = default(VerifiedTokenCache.TokenHash);
        ValidatedAccessToken? claims = null;
        var fromCache = false;
        if (_cache is not null)
        {
            hash = VerifiedTokenCache.Hash(ascii.AsSpan(0, token.Length));
            if (_cache.TryGet(hash, out var cached) && _keys.FindKey(cached.KeyId).Key is not null)
            {
                claims = cached;
                fromCache = true;
            }
        }

        if (claims is null)
        {
            // 2 and 3. Parse and header policy (JwsPolicies.AccessToken, narrowed by the options): three canonical
            // base64url segments, UTF-8 JSON objects without duplicate members, no JWE, alg on the allow-list, no
            // crit, no key material or key URL from the token, a well-formed kid.
            var readError = JwsReader.Read<AccessTokenPayload>(token, _policy, out var header, out var payload, out var segments);
            if (readError != JwsError.None)
            {
                return Fail(CodeOf(readError));
            }

            // 4. Key by kid, from the trusted set only; the key's bound algorithm must be the header's.
            var lookup = _keys.FindKey(header.KeyId!);
            if (lookup.Key is null)
            {
                return Fail(lookup.IsRevoked ? SafeguardErrorCodes.TokenKeyRevoked : SafeguardErrorCodes.TokenKeyUnknown);
            }

            if (!string.Equals(lookup.Key.Algorithm, header.Algorithm, StringComparison.Ordinal))
            {
                return Fail(SafeguardErrorCodes.TokenAlgorithmKeyMismatch);
            }

            // 5. Signature.
            if (!VerifySignature(token, ascii, segments, lookup.Key))
            {
                return Fail(SafeguardErrorCodes.TokenSignatureInvalid);
            }

            claims = payload.ToToken(header);
        }

        // 6. typ: at+jwt only (RFC 9068 section 4), so an ID token, a DPoP proof or a plain JWT is not an access token.
        if (!_policy.AllowsType(claims.TokenType))
        {
            return Fail(SafeguardErrorCodes.TokenTypeInvalid, claims);
        }

        // 7. Required claims (RFC 9068 section 2.2).
        if (claims.Issuer is null || claims.Subject is null || claims.Audiences.Count == 0 || claims.ExpiresAt is null
            || claims.IssuedAt is null || claims.TokenId is null || claims.ClientId is null)
        {
            return Fail(SafeguardErrorCodes.TokenClaimMissing, claims);
        }

        // 8. iss: exact.
        if (!string.Equals(claims.Issuer, _options.Issuer, StringComparison.Ordinal))
        {
            return Fail(SafeguardErrorCodes.TokenIssuerInvalid, claims);
        }

        // 9. aud: must contain one of ours (RFC 8707 resource indicators).
        if (checkAudience && !ContainsOurAudience(claims.Audiences))
        {
            return Fail(SafeguardErrorCodes.TokenAudienceInvalid, claims);
        }

        // 10. Lifetime, with at most 60 s of skew.
        var now = _time.GetUtcNow();
        var skew = _options.ClockSkew;
        if (now >= claims.ExpiresAt.Value + skew)
        {
            if (fromCache)
            {
                _cache!.Remove(hash);
            }

            return Fail(SafeguardErrorCodes.TokenExpired, claims);
        }

        if (claims.NotBefore is { } notBefore && notBefore > now + skew)
        {
            return Fail(SafeguardErrorCodes.TokenNotYetValid, claims);
        }

        if (claims.IssuedAt.Value > now + skew)
        {
            return Fail(SafeguardErrorCodes.TokenIssuedInFuture, claims);
        }

        if (claims.ExpiresAt.Value - claims.IssuedAt.Value > _options.MaxTokenLifetime)
        {
            return Fail(SafeguardErrorCodes.TokenLifetimeTooLong, claims);
        }

        // 11. Revocation of this token id (RFC 7009), checked on every use.
        if (_revocations is not null && _revocations.IsRevoked(claims.TokenId))
        {
            return Fail(SafeguardErrorCodes.TokenRevoked, claims);
        }

        // Access tokens are reusable until they expire; replay of DPoP proofs is the resource-server handler's step.
        if (!fromCache)
        {
            _cache?.Add(hash, claims, now);
        }

        return TokenValidationResult.Success(claims, fromCache);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_cache is not null)
        {
            _keys.KeyRevoked -= OnKeyRevoked;
        }
    }

    private bool ContainsOurAudience(IReadOnlyList<string> audiences)
    {
        foreach (var audience in audiences)
        {
            if (_audiences.Contains(audience))
            {
                return true;
            }
        }

        return false;
    }

    private static bool VerifySignature(string token, byte[] ascii, JwsSegments segments, SigningKey key)
    {
        var signatureChars = token.AsSpan()[segments.Signature];
        var signatureBytes = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(signatureChars.Length));
        try
        {
            // The signing input (header '.' payload) straight from the ASCII bytes already made.
            return Base64Url.DecodeFromChars(signatureChars, signatureBytes, out _, out var signatureLength) == OperationStatus.Done
                && key.PublicKey.Verify(key.Algorithm, ascii.AsSpan(0, segments.SigningInputLength), signatureBytes.AsSpan(0, signatureLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signatureBytes);
        }
    }

    /// <summary>The access-token code for each way a JWS fails its policy.</summary>
    private static string CodeOf(JwsError error) => error switch
    {
        JwsError.Missing => SafeguardErrorCodes.TokenMissing,
        JwsError.TooLarge => SafeguardErrorCodes.TokenTooLarge,
        JwsError.Encrypted => SafeguardErrorCodes.TokenEncrypted,
        JwsError.DuplicateMember => SafeguardErrorCodes.TokenDuplicateMember,
        JwsError.MemberMalformed => SafeguardErrorCodes.TokenClaimMalformed,
        JwsError.AlgorithmNotAllowed => SafeguardErrorCodes.TokenAlgorithmNotAllowed,
        JwsError.CriticalHeader => SafeguardErrorCodes.TokenCriticalHeader,
        JwsError.KeyReference => SafeguardErrorCodes.TokenHeaderKeyReference,
        JwsError.KeyIdMalformed => SafeguardErrorCodes.TokenKeyIdMalformed,
        JwsError.TypeNotAllowed => SafeguardErrorCodes.TokenTypeInvalid,
        JwsError.KeyUnknown => SafeguardErrorCodes.TokenKeyUnknown,
        JwsError.SignatureInvalid => SafeguardErrorCodes.TokenSignatureInvalid,
        _ => SafeguardErrorCodes.TokenMalformed,
    };

    private TokenValidationResult Fail(string code)
    {
        LogRejected(code);
        return TokenValidationResult.Failure(code);
    }

    private TokenValidationResult Fail(string code, ValidatedAccessToken verified)
    {
        LogRejectedVerified(code, verified.TokenId);
        return TokenValidationResult.FailureAfterSignature(code, verified);
    }

    private void OnKeyRevoked(object? sender, KeyRevokedEventArgs e) => _cache?.RemoveKey(e.KeyId);

    [LoggerMessage(EventId = LogEvents.AccessTokenRejected, Level = LogLevel.Debug, Message = "Access token rejected: {ErrorCode}.")]
    private partial void LogRejected(string errorCode);

    [LoggerMessage(EventId = LogEvents.AccessTokenRejectedAfterSignature, Level = LogLevel.Debug, Message = "Access token {TokenId} rejected after its signature verified: {ErrorCode}.")]
    private partial void LogRejectedVerified(string errorCode, string? tokenId);
}
