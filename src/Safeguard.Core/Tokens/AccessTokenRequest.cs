namespace Safeguard.Tokens;

/// <summary>
/// What an access token is to say. The issuer adds <c>iss</c>, <c>iat</c>, <c>exp</c> and <c>jti</c>; everything
/// else comes from here. There is deliberately no free-form claim bag beyond <see cref="AdditionalClaims"/>, whose
/// names must be on <see cref="AccessTokenOptions.AdditionalAllowedClaims"/>.
/// </summary>
public sealed record AccessTokenRequest
{
    /// <summary>The subject: an opaque, immutable user id, or the client id for a client-credentials token. Required.</summary>
    public required string Subject { get; init; }

    /// <summary>The client the token is issued to. Required.</summary>
    public required string ClientId { get; init; }

    /// <summary>The audience(s): resource indicators (RFC 8707) the token may be presented to. At least one.</summary>
    public required IReadOnlyList<string> Audiences { get; init; }

    /// <summary>Granted scopes; none by default.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The session id, for tokens issued to a signed-in user.</summary>
    public string? SessionId { get; init; }

    /// <summary>When the user authenticated.</summary>
    public DateTimeOffset? AuthenticationTime { get; init; }

    /// <summary>The authentication context class reached (for example an AAL2 value).</summary>
    public string? AuthenticationContextClass { get; init; }

    /// <summary>The authentication methods used (RFC 8176 values such as <c>pwd</c>, <c>otp</c>, <c>hwk</c>).</summary>
    public IReadOnlyList<string> AuthenticationMethods { get; init; } = [];

    /// <summary>Roles granted.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>The DPoP key thumbprint the token is bound to (<c>cnf.jkt</c>, RFC 9449).</summary>
    public string? ConfirmationJwkThumbprint { get; init; }

    /// <summary>The client certificate thumbprint the token is bound to (<c>cnf.x5t#S256</c>, RFC 8705).</summary>
    public string? ConfirmationCertificateThumbprint { get; init; }

    /// <summary>A lifetime shorter than the configured one; null for the configured lifetime.</summary>
    public TimeSpan? Lifetime { get; init; }

    /// <summary>Extra claims; each name must be allow-listed. Values: string, bool, integer, double, or a list of strings.</summary>
    public IReadOnlyDictionary<string, object> AdditionalClaims { get; init; } = new Dictionary<string, object>();
}
