using System.Collections.Frozen;

namespace Safeguard.Tokens;

/// <summary>The claim names an access token may carry (RFC 9068 section 2.2 and the few Safeguard adds). Nothing else, so no PHI.</summary>
public static class AccessTokenClaims
{
    /// <summary>Issuer.</summary>
    public const string Issuer = "iss";

    /// <summary>Subject: an opaque, immutable user or client id.</summary>
    public const string Subject = "sub";

    /// <summary>Audience: the resource server(s) the token is for.</summary>
    public const string Audience = "aud";

    /// <summary>Expiry (NumericDate).</summary>
    public const string ExpiresAt = "exp";

    /// <summary>Issued at (NumericDate).</summary>
    public const string IssuedAt = "iat";

    /// <summary>Not before (NumericDate); Safeguard does not set it but honours it.</summary>
    public const string NotBefore = "nbf";

    /// <summary>Token id.</summary>
    public const string TokenId = "jti";

    /// <summary>The client the token was issued to.</summary>
    public const string ClientId = "client_id";

    /// <summary>Granted scopes, space-separated.</summary>
    public const string Scope = "scope";

    /// <summary>Session id.</summary>
    public const string SessionId = "sid";

    /// <summary>When the user authenticated (NumericDate).</summary>
    public const string AuthenticationTime = "auth_time";

    /// <summary>Authentication context class.</summary>
    public const string AuthenticationContextClass = "acr";

    /// <summary>Authentication methods.</summary>
    public const string AuthenticationMethods = "amr";

    /// <summary>Confirmation (RFC 7800): <c>jkt</c> for DPoP (RFC 9449) or <c>x5t#S256</c> for mTLS (RFC 8705).</summary>
    public const string Confirmation = "cnf";

    /// <summary>Roles (RFC 9068 section 2.2.3.1).</summary>
    public const string Roles = "roles";

    /// <summary>Every standard claim name.</summary>
    public static FrozenSet<string> Standard { get; } = FrozenSet.Create(
        StringComparer.Ordinal,
        Issuer, Subject, Audience, ExpiresAt, IssuedAt, NotBefore, TokenId, ClientId, Scope, SessionId,
        AuthenticationTime, AuthenticationContextClass, AuthenticationMethods, Confirmation, Roles);
}
