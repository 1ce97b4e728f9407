using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>
/// OpenID Connect ID tokens (OIDC Core section 2): signed by the same key ring as access tokens, typed <c>JWT</c> (so
/// one can never pass for an access token, which must be <c>at+jwt</c>), for the client (<c>aud</c>), with
/// <c>nonce</c>, <c>auth_time</c>, <c>acr</c>, <c>amr</c>, <c>sid</c> and <c>at_hash</c>. They carry no other claims:
/// profile data is for <c>/userinfo</c>, never for a token.
/// </summary>
public sealed class IdTokenIssuer
{
    /// <summary>The ID token's <c>typ</c>.</summary>
    public const string TokenType = "JWT";

    /// <summary>How long an ID token is valid (it is consumed at once by the client).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly SigningKeyRing _keys;
    private readonly AccessTokenOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Creates the issuer.</summary>
    public IdTokenIssuer(SigningKeyRing keys, IOptions<AccessTokenOptions> options, TimeProvider time)
    {
        _keys = keys ?? throw new ArgumentNullException(nameof(keys));
        _options = OptionsGuard.Validated(new AccessTokenOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Signs an ID token, or returns null when no key is active.</summary>
    /// <param name="request">What it says.</param>
    /// <returns>The token, or null.</returns>
    public string? Issue(IdTokenRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var key = _keys.GetSigningKey();
        if (key?.SigningCredentials is null)
        {
            return null;
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["sub"] = request.Subject,
            ["auth_time"] = request.AuthenticatedAt.ToUnixTimeSeconds(),
            ["sid"] = request.SessionId,
        };
        if (request.Nonce is not null)
        {
            claims["nonce"] = request.Nonce;
        }

        if (request.Acr is not null)
        {
            claims["acr"] = request.Acr;
        }

        if (request.Amr.Count > 0)
        {
            claims["amr"] = request.Amr.ToArray();
        }

        if (request.AccessToken is not null)
        {
            claims["at_hash"] = AccessTokenHash(request.AccessToken, key.Algorithm);
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = request.ClientId,
            IssuedAt = issuedAt.UtcDateTime,
            Expires = (issuedAt + Lifetime).UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = key.SigningCredentials,
            Claims = claims,
        };
        return _handler.CreateToken(descriptor);
    }

    /// <summary>OIDC Core section 3.1.3.6: the left half of the hash (of the signing algorithm's size) of the access token, base64url.</summary>
    internal static string AccessTokenHash(string accessToken, string algorithm)
    {
        var bytes = Encoding.ASCII.GetBytes(accessToken);
        var hash = algorithm == SigningAlgorithms.ES384 ? SHA384.HashData(bytes) : SHA256.HashData(bytes);
        return Base64Url.EncodeToString(hash.AsSpan(0, hash.Length / 2));
    }
}

/// <summary>What an ID token says.</summary>
public sealed record IdTokenRequest
{
    /// <summary>The user (<c>sub</c>).</summary>
    public required string Subject { get; init; }

    /// <summary>The client (<c>aud</c>).</summary>
    public required string ClientId { get; init; }

    /// <summary>The session (<c>sid</c>).</summary>
    public required string SessionId { get; init; }

    /// <summary>When the user authenticated.</summary>
    public required DateTimeOffset AuthenticatedAt { get; init; }

    /// <summary>The request's nonce.</summary>
    public string? Nonce { get; init; }

    /// <summary>The context class.</summary>
    public string? Acr { get; init; }

    /// <summary>The methods.</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>The access token issued with it, for <c>at_hash</c>.</summary>
    public string? AccessToken { get; init; }
}
