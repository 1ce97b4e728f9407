using System.Text.Json;

namespace Safeguard.Tokens;

/// <summary>The claims of an access token whose signature and policy checks passed. Immutable; shared between cache hits.</summary>
public sealed class ValidatedAccessToken
{
    internal ValidatedAccessToken()
    {
    }

    /// <summary>The signing algorithm (<c>alg</c>).</summary>
    public string Algorithm { get; internal init; } = string.Empty;

    /// <summary>The signing key id (<c>kid</c>).</summary>
    public string KeyId { get; internal init; } = string.Empty;

    /// <summary>The token type (<c>typ</c>).</summary>
    public string? TokenType { get; internal init; }

    /// <summary>Issuer (<c>iss</c>).</summary>
    public string? Issuer { get; internal init; }

    /// <summary>Subject (<c>sub</c>).</summary>
    public string? Subject { get; internal init; }

    /// <summary>Audiences (<c>aud</c>), a string or an array in the token.</summary>
    public IReadOnlyList<string> Audiences { get; internal init; } = [];

    /// <summary>Expiry (<c>exp</c>).</summary>
    public DateTimeOffset? ExpiresAt { get; internal init; }

    /// <summary>Issued at (<c>iat</c>).</summary>
    public DateTimeOffset? IssuedAt { get; internal init; }

    /// <summary>Not before (<c>nbf</c>).</summary>
    public DateTimeOffset? NotBefore { get; internal init; }

    /// <summary>Token id (<c>jti</c>).</summary>
    public string? TokenId { get; internal init; }

    /// <summary>The client the token was issued to (<c>client_id</c>).</summary>
    public string? ClientId { get; internal init; }

    /// <summary>Scopes (<c>scope</c>, split on spaces).</summary>
    public IReadOnlyList<string> Scopes { get; internal init; } = [];

    /// <summary>Session id (<c>sid</c>).</summary>
    public string? SessionId { get; internal init; }

    /// <summary>When the user authenticated (<c>auth_time</c>).</summary>
    public DateTimeOffset? AuthenticationTime { get; internal init; }

    /// <summary>Authentication context class (<c>acr</c>).</summary>
    public string? AuthenticationContextClass { get; internal init; }

    /// <summary>Authentication methods (<c>amr</c>).</summary>
    public IReadOnlyList<string> AuthenticationMethods { get; internal init; } = [];

    /// <summary>Roles (<c>roles</c>).</summary>
    public IReadOnlyList<string> Roles { get; internal init; } = [];

    /// <summary>The DPoP key thumbprint the token is bound to (<c>cnf.jkt</c>).</summary>
    public string? ConfirmationJwkThumbprint { get; internal init; }

    /// <summary>The certificate thumbprint the token is bound to (<c>cnf.x5t#S256</c>).</summary>
    public string? ConfirmationCertificateThumbprint { get; internal init; }

    /// <summary>Claims outside the standard set (only those an issuer deliberately allow-listed appear in Safeguard's tokens).</summary>
    public IReadOnlyDictionary<string, JsonElement> AdditionalClaims { get; internal init; } = EmptyClaims;

    /// <summary>Whether <see cref="Scopes"/> contains <paramref name="scope"/> (ordinal).</summary>
    /// <param name="scope">A scope.</param>
    /// <returns>True if granted.</returns>
    public bool HasScope(string scope) => Scopes.Contains(scope, StringComparer.Ordinal);

    internal static IReadOnlyDictionary<string, JsonElement> EmptyClaims { get; } = new Dictionary<string, JsonElement>();
}
