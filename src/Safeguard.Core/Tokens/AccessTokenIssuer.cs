using System.Buffers.Text;
using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>
/// Issues RFC 9068 access tokens (<c>typ: at+jwt</c>) signed by the key ring's active key. Claims come from an
/// allow-list only: a claim that is neither standard nor deliberately allowed is refused (SG2001), so PHI cannot
/// slip into a token through a generic claim bag.
/// </summary>
public sealed partial class AccessTokenIssuer
{
    /// <summary>The media type of RFC 9068 access tokens, as it appears in <c>typ</c>.</summary>
    public const string TokenType = "at+jwt";

    private const int MaxValueLength = 1024;

    private readonly SigningKeyRing _keys;
    private readonly AccessTokenOptions _options;
    private readonly FrozenSet<string> _additionalAllowed;
    private readonly TimeProvider _time;
    private readonly ILogger<AccessTokenIssuer> _logger;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Creates an issuer.</summary>
    /// <param name="keys">The key ring whose active key signs.</param>
    /// <param name="options">Issuer, lifetime and the additional-claims allow-list.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The operational log (never tokens).</param>
    public AccessTokenIssuer(
        SigningKeyRing keys, IOptions<AccessTokenOptions> options, TimeProvider timeProvider, ILogger<AccessTokenIssuer> logger)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _keys = keys;
        _options = OptionsGuard.Validated(new AccessTokenOptionsValidator(), options);
        _additionalAllowed = _options.AdditionalAllowedClaims.ToFrozenSet(StringComparer.Ordinal);
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>Issues an access token, or explains with an <c>SG2xxx</c> code why not.</summary>
    /// <param name="request">What the token says.</param>
    /// <returns>The token and its id, or the error.</returns>
    public AccessTokenIssueResult Issue(AccessTokenRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var refusal = CheckRequest(request);
        if (refusal is { } error)
        {
            LogRefused(error.ErrorCode!, request.ClientId);
            return error;
        }

        var key = _keys.GetSigningKey();
        if (key?.SigningCredentials is null)
        {
            LogRefused(SafeguardErrorCodes.IssuanceNoSigningKey, request.ClientId);
            return AccessTokenIssueResult.Failure(SafeguardErrorCodes.IssuanceNoSigningKey, "No signing key is active; nothing was signed.");
        }

        // NumericDate has one-second resolution: work in whole seconds so ExpiresAt is exactly what the token says.
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var expiresAt = issuedAt + (request.Lifetime ?? _options.Lifetime);
        var tokenId = NewTokenId();

        var claims = new Dictionary<string, object>(16, StringComparer.Ordinal)
        {
            [AccessTokenClaims.Subject] = request.Subject,
            [AccessTokenClaims.ClientId] = request.ClientId,
            [AccessTokenClaims.TokenId] = tokenId,
        };
        if (request.Scopes.Count > 0)
        {
            claims[AccessTokenClaims.Scope] = string.Join(' ', request.Scopes);
        }

        if (request.SessionId is not null)
        {
            claims[AccessTokenClaims.SessionId] = request.SessionId;
        }

        if (request.AuthenticationTime is { } authTime)
        {
            claims[AccessTokenClaims.AuthenticationTime] = authTime.ToUnixTimeSeconds();
        }

        if (request.AuthenticationContextClass is not null)
        {
            claims[AccessTokenClaims.AuthenticationContextClass] = request.AuthenticationContextClass;
        }

        if (request.AuthenticationMethods.Count > 0)
        {
            claims[AccessTokenClaims.AuthenticationMethods] = request.AuthenticationMethods.ToArray();
        }

        if (request.Roles.Count > 0)
        {
            claims[AccessTokenClaims.Roles] = request.Roles.ToArray();
        }

        if (request.ConfirmationJwkThumbprint is not null || request.ConfirmationCertificateThumbprint is not null)
        {
            var confirmation = new Dictionary<string, object>(StringComparer.Ordinal);
            if (request.ConfirmationJwkThumbprint is not null)
            {
                confirmation["jkt"] = request.ConfirmationJwkThumbprint;
            }

            if (request.ConfirmationCertificateThumbprint is not null)
            {
                confirmation["x5t#S256"] = request.ConfirmationCertificateThumbprint;
            }

            claims[AccessTokenClaims.Confirmation] = confirmation;
        }

        foreach (var (name, value) in request.AdditionalClaims)
        {
            claims[name] = value;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            IssuedAt = issuedAt.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = key.SigningCredentials,
            Claims = claims,
        };
        if (request.Audiences.Count == 1)
        {
            descriptor.Audience = request.Audiences[0];
        }
        else
        {
            foreach (var audience in request.Audiences)
            {
                descriptor.Audiences.Add(audience);
            }
        }

        var token = _handler.CreateToken(descriptor);
        return AccessTokenIssueResult.Success(token, tokenId, key.KeyId, expiresAt);
    }

    private AccessTokenIssueResult? CheckRequest(AccessTokenRequest request)
    {
        if (!IsValue(request.Subject))
        {
            return Invalid("sub is required (1 to 1024 characters).");
        }

        if (!IsValue(request.ClientId))
        {
            return Invalid("client_id is required (1 to 1024 characters).");
        }

        if (request.Audiences is null || request.Audiences.Count == 0 || !request.Audiences.All(IsValue))
        {
            return Invalid("At least one audience is required, and none may be empty.");
        }

        if (!request.Scopes.All(s => IsValue(s) && !s.Contains(' ', StringComparison.Ordinal)))
        {
            return Invalid("A scope is empty or contains a space.");
        }

        if (!request.AuthenticationMethods.All(IsValue) || !request.Roles.All(IsValue))
        {
            return Invalid("An amr or roles entry is empty.");
        }

        if ((request.SessionId is not null && !IsValue(request.SessionId))
            || (request.AuthenticationContextClass is not null && !IsValue(request.AuthenticationContextClass)))
        {
            return Invalid("sid and acr, when given, may not be empty.");
        }

        if ((request.ConfirmationJwkThumbprint is not null && !KeyIds.IsWellFormed(request.ConfirmationJwkThumbprint))
            || (request.ConfirmationCertificateThumbprint is not null && !KeyIds.IsWellFormed(request.ConfirmationCertificateThumbprint)))
        {
            return Invalid("A cnf thumbprint must be base64url (RFC 7638 / RFC 8705).");
        }

        if (request.Lifetime is { } lifetime && (lifetime <= TimeSpan.Zero || lifetime > _options.Lifetime))
        {
            return AccessTokenIssueResult.Failure(
                SafeguardErrorCodes.IssuanceLifetimeNotAllowed,
                $"The requested lifetime {lifetime} is outside (0, {_options.Lifetime}].");
        }

        foreach (var (name, value) in request.AdditionalClaims)
        {
            if (AccessTokenClaims.Standard.Contains(name) || !_additionalAllowed.Contains(name))
            {
                // The name is echoed to the operator only; the value (possibly PHI) never is.
                return AccessTokenIssueResult.Failure(
                    SafeguardErrorCodes.IssuanceClaimNotAllowed,
                    $"The claim '{name}' is not on the access-token allow-list (Safeguard:Tokens:AdditionalAllowedClaims).");
            }

            if (!IsAllowedValue(value))
            {
                return AccessTokenIssueResult.Failure(
                    SafeguardErrorCodes.IssuanceClaimValueNotAllowed,
                    $"The claim '{name}' has a value of a type tokens do not carry; use a string, boolean, number or list of strings.");
            }
        }

        return null;
    }

    private static AccessTokenIssueResult Invalid(string description) =>
        AccessTokenIssueResult.Failure(SafeguardErrorCodes.IssuanceRequestInvalid, description);

    private static bool IsValue(string? value) => !string.IsNullOrEmpty(value) && value.Length <= MaxValueLength;

    private static bool IsAllowedValue(object? value) => value switch
    {
        string s => s.Length <= MaxValueLength,
        bool or int or long or double => true,
        IEnumerable<string> list => list.All(IsValue),
        _ => false,
    };

    private static string NewTokenId()
    {
        // 128 bits from the CSPRNG: unguessable and collision-free for the revocation list.
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    [LoggerMessage(EventId = LogEvents.IssuanceRefused, Level = LogLevel.Warning, Message = "Access token refused for client {ClientId}: {ErrorCode}.")]
    private partial void LogRefused(string errorCode, string? clientId);
}
