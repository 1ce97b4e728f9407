namespace Safeguard.Server.Endpoints;

/// <summary>The server's public URLs, all built from the issuer (RFC 8414: https only).</summary>
internal sealed class ServerEndpoints
{
    public ServerEndpoints(string issuer)
    {
        Issuer = issuer.TrimEnd('/');
        TokenEndpoint = Issuer + TokenPath;
        RevocationEndpoint = Issuer + RevocationPath;
        IntrospectionEndpoint = Issuer + IntrospectionPath;
        JwksUri = Issuer + JwksPath;
        TokenEndpointUri = new Uri(TokenEndpoint);
        TokenAudiences = [Issuer, TokenEndpoint];
        RevocationAudiences = [Issuer, RevocationEndpoint];
        IntrospectionAudiences = [Issuer, IntrospectionEndpoint];
    }

    public const string TokenPath = "/token";
    public const string RevocationPath = "/revoke";
    public const string IntrospectionPath = "/introspect";
    public const string JwksPath = "/jwks";

    public string Issuer { get; }

    public string TokenEndpoint { get; }

    public Uri TokenEndpointUri { get; }

    public string RevocationEndpoint { get; }

    public string IntrospectionEndpoint { get; }

    public string JwksUri { get; }

    /// <summary>What a client assertion's <c>aud</c> may be at the token endpoint (RFC 7523 section 3, item 3).</summary>
    public IReadOnlyList<string> TokenAudiences { get; }

    public IReadOnlyList<string> RevocationAudiences { get; }

    public IReadOnlyList<string> IntrospectionAudiences { get; }
}
