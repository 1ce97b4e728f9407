namespace Safeguard.Clients;

/// <summary>
/// A registered OAuth client (a machine client for the client-credentials grant). Holds no secret in clear:
/// <see cref="SecretHash"/> is the SHA-256 of a server-generated 256-bit secret, and a <c>private_key_jwt</c>
/// client registers public keys only.
/// </summary>
public sealed record Client
{
    /// <summary>The client id: 1 to 64 characters of <c>[A-Za-z0-9._-]</c>. Immutable and never reused.</summary>
    public required string ClientId { get; init; }

    /// <summary>How the client authenticates at the token endpoint: one of <see cref="ClientAuthenticationMethods"/>.</summary>
    public required string AuthenticationMethod { get; init; }

    /// <summary>The grant types the client may use.</summary>
    public IReadOnlyList<string> GrantTypes { get; init; } = [];

    /// <summary>The scopes the client may be granted; a request for any other is refused (<c>invalid_scope</c>).</summary>
    public IReadOnlyList<string> AllowedScopes { get; init; } = [];

    /// <summary>The resource indicators (RFC 8707) its tokens may name as audience; the first is the default.</summary>
    public IReadOnlyList<string> AllowedResources { get; init; } = [];

    /// <summary>For <c>client_secret_basic</c>: the secret's hash (<see cref="ClientSecrets.Hash"/>); never the secret.</summary>
#pragma warning disable CA1819 // A stored record carries its bytes; nothing mutates them.
    public byte[]? SecretHash { get; init; }
#pragma warning restore CA1819

    /// <summary>For <c>private_key_jwt</c>: the client's public keys as a JWKS document.</summary>
    public string? Jwks { get; init; }

    /// <summary>For <c>self_signed_tls_client_auth</c>: the SHA-256 thumbprint (base64url) of the client's registered certificate.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>
    /// For <c>tls_client_auth</c>: the subject distinguished name (RFC 4514, for example
    /// <c>CN=lab-device, O=General Hospital</c>) of the certificate the client presents, which must also chain to a
    /// client CA the server trusts (<c>Safeguard:Tls:ClientCaPath</c>).
    /// </summary>
    public string? CertificateSubject { get; init; }

    /// <summary>Whether every token request must carry a DPoP proof (RFC 9449), so every token is sender-constrained.</summary>
    public bool RequireDpop { get; init; }

    /// <summary>Whether sign-in requests must be pushed first (RFC 9126 PAR): <c>/authorize</c> then takes only a <c>request_uri</c>.</summary>
    public bool RequirePushedAuthorizationRequests { get; init; }

    /// <summary>Where the client is told, with a signed logout token, that a session it was part of ended (OIDC Back-Channel Logout); https only.</summary>
    public string? BackchannelLogoutUri { get; init; }

    /// <summary>
    /// For the authorization-code grant: the redirect URIs, each matched exactly (RFC 9700 section 4.1.3): https, or
    /// http on a loopback address for native apps (RFC 8252 section 7.3), never with a fragment.
    /// </summary>
    public IReadOnlyList<string> RedirectUris { get; init; } = [];

    /// <summary>
    /// The resources this client serves and may introspect tokens for (a resource server's own audiences). Empty:
    /// the client may not call the introspection endpoint. Deliberately separate
    /// from <see cref="AllowedResources"/>, the APIs the client may call: calling an API does not entitle a client to
    /// inspect other clients' tokens for it.
    /// </summary>
    public IReadOnlyList<string> IntrospectionResources { get; init; } = [];

    /// <summary>A disabled client cannot authenticate; it stays registered so its id is never reused.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>When the client was registered.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the client was last changed (registration, secret rotation, disabling).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>The client authentication methods Safeguard accepts at its token, revocation and introspection endpoints.</summary>
public static class ClientAuthenticationMethods
{
    /// <summary>RFC 7523 section 2.2: a JWT signed with the client's private key.</summary>
    public const string PrivateKeyJwt = "private_key_jwt";

    /// <summary>RFC 8705 section 2.1.1: mutual TLS with a certificate from a trusted CA whose subject is the registered one.</summary>
    public const string TlsClientAuth = "tls_client_auth";

    /// <summary>RFC 8705 section 2.2: mutual TLS with the client's registered (pinned) certificate.</summary>
    public const string SelfSignedTlsClientAuth = "self_signed_tls_client_auth";

    /// <summary>RFC 6749 section 2.3.1: HTTP Basic with a server-generated high-entropy secret.</summary>
    public const string ClientSecretBasic = "client_secret_basic";

    /// <summary>
    /// RFC 7591 section 2: a public client (a native or browser app that cannot keep a secret). Only for the
    /// authorization-code grant, where PKCE binds the code to the app instance that asked for it.
    /// </summary>
    public const string None = "none";

    /// <summary>The confidential methods, strongest first (the order discovery advertises), then <see cref="None"/>.</summary>
    public static IReadOnlyList<string> All { get; } = [PrivateKeyJwt, TlsClientAuth, SelfSignedTlsClientAuth, ClientSecretBasic, None];
}

/// <summary>The grant types this server implements.</summary>
public static class GrantTypes
{
    /// <summary>RFC 6749 section 4.4.</summary>
    public const string ClientCredentials = "client_credentials";

    /// <summary>RFC 6749 section 4.1, with PKCE S256 always (RFC 9700).</summary>
    public const string AuthorizationCode = "authorization_code";

    /// <summary>RFC 6749 section 6, rotated on every use; only with <see cref="AuthorizationCode"/>.</summary>
    public const string RefreshToken = "refresh_token";
}
