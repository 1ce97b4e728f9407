using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Safeguard.Clients;

/// <summary>What an administrator asks for when registering a client (the CLI's options, later the admin console's form).</summary>
public sealed record ClientRegistration
{
    /// <summary>The client id: 1 to 64 of <c>A-Z a-z 0-9 . _ -</c>.</summary>
    public required string ClientId { get; init; }

    /// <summary>One of <see cref="ClientAuthenticationMethods.All"/>. Default <c>client_secret_basic</c>.</summary>
    public string AuthenticationMethod { get; init; } = ClientAuthenticationMethods.ClientSecretBasic;

    /// <summary>Grant types. Default <c>client_credentials</c>.</summary>
    public IReadOnlyList<string> GrantTypes { get; init; } = [Clients.GrantTypes.ClientCredentials];

    /// <summary>Allowed scopes (RFC 6749 scope tokens).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>Allowed resource indicators (RFC 8707); the first is the default audience. At least one.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>For <c>private_key_jwt</c>: the public JWKS document.</summary>
    public string? Jwks { get; init; }

    /// <summary>For <c>self_signed_tls_client_auth</c>: the client's certificate, PEM.</summary>
    public string? CertificatePem { get; init; }

    /// <summary>For <c>tls_client_auth</c>: the subject DN of the client's CA-issued certificate.</summary>
    public string? CertificateSubject { get; init; }

    /// <summary>Whether every token request must carry a DPoP proof.</summary>
    public bool RequireDpop { get; init; }

    /// <summary>Whether sign-in requests must be pushed first (RFC 9126).</summary>
    public bool RequirePushedAuthorizationRequests { get; init; }

    /// <summary>The OIDC back-channel logout URI, if any.</summary>
    public string? BackchannelLogoutUri { get; init; }

    /// <summary>Resources whose tokens the client may introspect (a resource server's own).</summary>
    public IReadOnlyList<string> IntrospectionResources { get; init; } = [];

    /// <summary>For the authorization-code grant: the exact redirect URIs.</summary>
    public IReadOnlyList<string> RedirectUris { get; init; } = [];
}

/// <summary>The outcome of <see cref="ClientRegistrationValidator.Validate"/>: every problem, or the normalized values to store.</summary>
public sealed record ClientRegistrationResult
{
    /// <summary>Every problem found, each saying what to change; empty when the registration is valid.</summary>
    public required IReadOnlyList<string> Errors { get; init; }

    /// <summary>True when nothing is wrong.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>The registration as given (its lists deduplicated).</summary>
    public required ClientRegistration Registration { get; init; }

    /// <summary>For <c>self_signed_tls_client_auth</c>: the pinned certificate's SHA-256 thumbprint, base64url.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>For <c>tls_client_auth</c>: the subject DN in the display form the server compares against.</summary>
    public string? CertificateSubject { get; init; }

    /// <summary>The client to store, enabled, created now.</summary>
    /// <param name="now">The registration time.</param>
    /// <param name="secretHash">For <c>client_secret_basic</c>: the generated secret's hash.</param>
    /// <returns>The client.</returns>
    /// <exception cref="InvalidOperationException">The registration is not valid.</exception>
    public Client ToClient(DateTimeOffset now, byte[]? secretHash)
    {
        if (!IsValid)
        {
            throw new InvalidOperationException("The registration is not valid: " + string.Join(" ", Errors));
        }

        return new Client
        {
            ClientId = Registration.ClientId,
            AuthenticationMethod = Registration.AuthenticationMethod,
            GrantTypes = Registration.GrantTypes,
            AllowedScopes = Registration.Scopes,
            AllowedResources = Registration.Resources,
            SecretHash = secretHash,
            Jwks = Registration.AuthenticationMethod == ClientAuthenticationMethods.PrivateKeyJwt ? Registration.Jwks : null,
            CertificateThumbprint = CertificateThumbprint,
            CertificateSubject = CertificateSubject,
            RequireDpop = Registration.RequireDpop,
            RequirePushedAuthorizationRequests = Registration.RequirePushedAuthorizationRequests,
            BackchannelLogoutUri = Registration.BackchannelLogoutUri,
            IntrospectionResources = Registration.IntrospectionResources,
            RedirectUris = Registration.RedirectUris,
            Enabled = true,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }
}

/// <summary>
/// The rules a client registration must meet, each broken one reported with what to change: a well-formed id, grant
/// types the server implements, scope tokens (RFC 6749 appendix A.4), absolute resource indicators without a fragment
/// (RFC 8707 section 2), and the credential its method needs: a JWKS of public EC or RSA signature keys, a subject DN
/// (RFC 4514) or a PEM certificate. The token endpoint applies the same scope and resource rules to requests.
/// </summary>
public static class ClientRegistrationValidator
{
    /// <summary>The longest scope token accepted.</summary>
    public const int MaxScopeLength = 128;

    /// <summary>The longest resource indicator accepted.</summary>
    public const int MaxResourceLength = 2048;

    /// <summary>The longest subject DN accepted.</summary>
    public const int MaxSubjectLength = 1024;

    /// <summary>RFC 6749 appendix A.4: <c>scope-token = 1*( %x21 / %x23-5B / %x5D-7E )</c>, here at most 128 characters.</summary>
    /// <param name="scope">A scope.</param>
    /// <returns>True if well-formed.</returns>
    public static bool IsScopeToken(string scope) =>
        scope is { Length: > 0 and <= MaxScopeLength } && scope.All(c => c == '!' || (c >= '#' && c <= '[') || (c >= ']' && c <= '~'));

    /// <summary>RFC 8707 section 2: an absolute URI without a fragment, here at most 2048 characters.</summary>
    /// <param name="resource">A resource indicator.</param>
    /// <returns>True if well-formed.</returns>
    public static bool IsResourceIndicator(string resource) =>
        resource is { Length: > 0 and <= MaxResourceLength } && Uri.TryCreate(resource, UriKind.Absolute, out var uri)
        && uri.Fragment.Length == 0 && !resource.Contains('#', StringComparison.Ordinal);

    /// <summary>Checks a registration and reports every problem.</summary>
    /// <param name="registration">What was asked for.</param>
    /// <returns>The problems, or the values to store.</returns>
    public static ClientRegistrationResult Validate(ClientRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var errors = new List<string>();
        var normalized = registration with
        {
            GrantTypes = Distinct(registration.GrantTypes),
            Scopes = Distinct(registration.Scopes),
            Resources = Distinct(registration.Resources),
            IntrospectionResources = Distinct(registration.IntrospectionResources),
            RedirectUris = Distinct(registration.RedirectUris),
        };

        if (!ClientIds.IsWellFormed(registration.ClientId))
        {
            errors.Add($"client id '{registration.ClientId}' is not valid: use 1-64 characters of A-Z a-z 0-9 . _ -.");
        }
        else if (ClientIds.IsReservedForUsers(registration.ClientId))
        {
            errors.Add($"client id '{registration.ClientId}' starts with '{ClientIds.UserSubjectPrefix}', which is reserved for user subjects (a client's sub must never equal a user's).");
        }

        if (normalized.GrantTypes.Count == 0 || normalized.GrantTypes.Any(g => g is not (Clients.GrantTypes.ClientCredentials or Clients.GrantTypes.AuthorizationCode or Clients.GrantTypes.RefreshToken)))
        {
            errors.Add($"grant types: use {Clients.GrantTypes.ClientCredentials}, {Clients.GrantTypes.AuthorizationCode} or {Clients.GrantTypes.RefreshToken} (implicit and password grants are not offered).");
        }

        var codeFlow = normalized.GrantTypes.Contains(Clients.GrantTypes.AuthorizationCode, StringComparer.Ordinal);
        if (normalized.GrantTypes.Contains(Clients.GrantTypes.RefreshToken, StringComparer.Ordinal) && !codeFlow)
        {
            errors.Add($"grant types: {Clients.GrantTypes.RefreshToken} comes only with {Clients.GrantTypes.AuthorizationCode} (a person's sign-in is what it refreshes).");
        }
        if (codeFlow && normalized.RedirectUris.Count == 0)
        {
            errors.Add("redirect uri: the authorization_code grant needs at least one redirect URI (matched exactly).");
        }
        else if (!codeFlow && normalized.RedirectUris.Count > 0)
        {
            errors.Add("redirect uri: only clients of the authorization_code grant have redirect URIs.");
        }

        if (registration.BackchannelLogoutUri is { } logoutUri
            && (!codeFlow || logoutUri.Length > MaxRedirectUriLength || !Uri.TryCreate(logoutUri, UriKind.Absolute, out var parsedLogout)
                || parsedLogout.Scheme != Uri.UriSchemeHttps || parsedLogout.Fragment.Length > 0 || parsedLogout.UserInfo.Length > 0))
        {
            errors.Add($"back-channel logout uri '{logoutUri}': use an absolute https URI without a fragment, on a client of the authorization_code grant.");
        }

        if (!codeFlow && registration.RequirePushedAuthorizationRequests)
        {
            errors.Add("require PAR: only clients of the authorization_code grant push authorization requests.");
        }

        foreach (var uri in normalized.RedirectUris.Where(u => !IsRedirectUri(u)))
        {
            errors.Add($"redirect uri '{uri}': use an absolute https URI, or http on 127.0.0.1 or [::1] for a native app (RFC 8252), without a fragment or user info, at most {MaxRedirectUriLength} characters.");
        }

        if (registration.AuthenticationMethod == ClientAuthenticationMethods.None && (!codeFlow || normalized.GrantTypes.Contains(Clients.GrantTypes.ClientCredentials, StringComparer.Ordinal)))
        {
            errors.Add("a public client (auth none) may use only the authorization_code grant (and refresh_token): it cannot keep a secret, and PKCE protects its codes.");
        }

        if (normalized.Scopes.Any(s => !IsScopeToken(s)))
        {
            errors.Add($"scope: a scope is 1-{MaxScopeLength} printable ASCII characters without spaces, quotes or backslashes.");
        }

        if (normalized.Resources.Count == 0)
        {
            errors.Add("resource: name at least one resource indicator (the API the tokens are for), for example https://api.example.org.");
        }
        else if (normalized.Resources.Any(r => !IsResourceIndicator(r) || new Uri(r).Scheme is not ("https" or "http" or "urn")))
        {
            errors.Add("resource: each resource must be an absolute https, http or urn URI without a fragment.");
        }

        if (normalized.IntrospectionResources.Any(r => !IsResourceIndicator(r)))
        {
            errors.Add("introspect: each resource must be an absolute URI without a fragment.");
        }

        string? thumbprint = null;
        string? subject = null;
        switch (registration.AuthenticationMethod)
        {
            case ClientAuthenticationMethods.ClientSecretBasic:
            case ClientAuthenticationMethods.None:
                break;
            case ClientAuthenticationMethods.PrivateKeyJwt:
                CheckJwks(registration.Jwks, errors);
                break;
            case ClientAuthenticationMethods.TlsClientAuth:
                subject = NormalizeSubject(registration.CertificateSubject, errors);
                break;
            case ClientAuthenticationMethods.SelfSignedTlsClientAuth:
                thumbprint = ThumbprintOf(registration.CertificatePem, errors);
                break;
            default:
                errors.Add($"authentication method '{registration.AuthenticationMethod}' is not supported; use {string.Join(", ", ClientAuthenticationMethods.All)}.");
                break;
        }

        return new ClientRegistrationResult { Errors = errors, Registration = normalized, CertificateThumbprint = thumbprint, CertificateSubject = subject };
    }

    /// <summary>The longest redirect URI registered.</summary>
    public const int MaxRedirectUriLength = 2048;

    /// <summary>
    /// Whether <paramref name="value"/> may be registered as a redirect URI: absolute, https (or http on a loopback
    /// IP literal, RFC 8252 section 7.3), no fragment (RFC 6749 section 3.1.2), no user info, no wildcard.
    /// </summary>
    /// <param name="value">The proposed URI.</param>
    /// <returns>True if acceptable.</returns>
    public static bool IsRedirectUri(string value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxRedirectUriLength || value.Contains('#', StringComparison.Ordinal) || value.Contains('*', StringComparison.Ordinal)
            || value.Any(c => c <= ' ' || c >= 0x7f) || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.UserInfo.Length > 0)
        {
            return false;
        }

        return uri.Scheme == Uri.UriSchemeHttps
            || (uri.Scheme == Uri.UriSchemeHttp && uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(uri.Host.Trim('[', ']'))));
    }

    private static string[] Distinct(IReadOnlyList<string> values) => [.. values.Where(v => v.Length > 0).Distinct(StringComparer.Ordinal)];

    private static void CheckJwks(string? jwks, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(jwks))
        {
            errors.Add("jwks: private_key_jwt needs the client's public JWKS.");
            return;
        }

        var keys = ClientJwks.Read(jwks, out var problems);
        foreach (var key in keys)
        {
            key.Dispose();
        }

        errors.AddRange(problems.Select(p => "jwks: " + p + "."));
    }

    private static string? NormalizeSubject(string? value, List<string> errors)
    {
        if (value is { Length: > MaxSubjectLength })
        {
            errors.Add($"subject: a distinguished name of at most {MaxSubjectLength} characters.");
            return null;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add("subject: tls_client_auth needs the subject DN of the client's certificate, for example \"CN=lab-device, O=General Hospital\".");
            return null;
        }

        try
        {
            // Stored as the parser formats it, the form the server compares against.
            return new X500DistinguishedName(value).Decode(X500DistinguishedNameFlags.Reversed);
        }
        catch (CryptographicException)
        {
            errors.Add($"subject '{value}' is not a distinguished name (RFC 4514), for example \"CN=lab-device, O=General Hospital\".");
            return null;
        }
    }

    private static string? ThumbprintOf(string? pem, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            errors.Add("certificate: self_signed_tls_client_auth needs the client's certificate as PEM.");
            return null;
        }

        try
        {
            using var certificate = X509Certificate2.CreateFromPem(pem);
            return Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        }
        catch (CryptographicException ex)
        {
            errors.Add($"certificate: not a PEM certificate ({ex.Message}).");
            return null;
        }
    }
}
