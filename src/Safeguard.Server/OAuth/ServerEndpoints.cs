namespace Safeguard.Server.OAuth;

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
        PushedAuthorizationEndpoint = Issuer + PushedAuthorizationPath;
        TokenEndpointUri = new Uri(TokenEndpoint);
        TokenAudiences = [Issuer];
        RevocationAudiences = [Issuer];
        IntrospectionAudiences = [Issuer];
    }

    public const string TokenPath = "/token";
    public const string RevocationPath = "/revoke";
    public const string IntrospectionPath = "/introspect";
    public const string JwksPath = "/jwks";
    public const string PushedAuthorizationPath = "/par";

    /// <summary>The RFC 9126 pushed authorization request endpoint.</summary>
    public string PushedAuthorizationEndpoint { get; }

    public string Issuer { get; }

    public string TokenEndpoint { get; }

    public Uri TokenEndpointUri { get; }

    public string RevocationEndpoint { get; }

    public string IntrospectionEndpoint { get; }

    public string JwksUri { get; }

    /// <summary>
    /// What a client assertion's <c>aud</c> may be: the issuer identifier alone, as draft-ietf-oauth-rfc7523bis
    /// requires, so an assertion a client made for another server (naming this server's token endpoint) is useless here.
    /// </summary>
    public IReadOnlyList<string> TokenAudiences { get; }

    public IReadOnlyList<string> RevocationAudiences { get; }

    public IReadOnlyList<string> IntrospectionAudiences { get; }
}
