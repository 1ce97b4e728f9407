using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Safeguard.Clients;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.ClientAuthentication;

/// <summary>A client that proved who it is.</summary>
/// <param name="Client">The client.</param>
/// <param name="Method">The method it used.</param>
/// <param name="CertificateThumbprint">For the mutual-TLS methods: the certificate's SHA-256 thumbprint (base64url), for <c>cnf.x5t#S256</c>.</param>
internal sealed record AuthenticatedClient(Client Client, string Method, string? CertificateThumbprint);

/// <summary>
/// Why client authentication failed. <see cref="ClaimedClientId"/> is the claimed id when it names a registered client;
/// an unknown id is never recorded (it may be a secret typed into the wrong field).
/// </summary>
internal sealed record ClientAuthenticationFailure(string Code, string OAuthError, string Description, string? ClaimedClientId, bool BasicChallenge)
{
    /// <summary>What a result nobody filled in reports.</summary>
    public static ClientAuthenticationFailure Unspecified { get; } =
        new(SafeguardErrorCodes.ClientAuthenticationMissing, OAuthResponses.InvalidClient, "Client authentication failed.", null, BasicChallenge: true);

    /// <summary>
    /// RFC 6749 section 5.2: 401 with a Basic challenge when the client tried (or should try) HTTP Basic; 400 for a
    /// failed assertion or certificate, since a 401 would need a challenge no HTTP scheme describes.
    /// </summary>
    public int ApplyStatus(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (OAuthError == OAuthResponses.InvalidClient && BasicChallenge)
        {
            response.Headers.WWWAuthenticate = "Basic realm=\"safeguard\", charset=\"UTF-8\"";
            return StatusCodes.Status401Unauthorized;
        }

        return StatusCodes.Status400BadRequest;
    }
}

/// <summary>The outcome of client authentication. <c>default</c> is a failure (<see cref="ClientAuthenticationFailure.Unspecified"/>).</summary>
internal readonly struct ClientAuthenticationResult
{
    private readonly ClientAuthenticationFailure? _failure;

    private ClientAuthenticationResult(AuthenticatedClient? client, ClientAuthenticationFailure? failure)
    {
        Client = client;
        _failure = failure;
    }

    /// <summary>True when the client proved who it is.</summary>
    [MemberNotNullWhen(true, nameof(Client))]
    [MemberNotNullWhen(false, nameof(Failure))]
    public bool Succeeded => Client is not null;

    /// <summary>The client; null unless it succeeded.</summary>
    public AuthenticatedClient? Client { get; }

    /// <summary>Why it failed; null when it succeeded.</summary>
    public ClientAuthenticationFailure? Failure => Succeeded ? null : _failure ?? ClientAuthenticationFailure.Unspecified;

    public static ClientAuthenticationResult Success(Client client, string method, string? certificateThumbprint) =>
        new(new AuthenticatedClient(client, method, certificateThumbprint), null);

    public static ClientAuthenticationResult Fail(string code, string error, string description, string? claimed, bool basic) =>
        new(null, new ClientAuthenticationFailure(code, error, description, claimed is not null && ClientIds.IsWellFormed(claimed) ? claimed : null, basic));
}

/// <summary>
/// Client authentication at the token, revocation and introspection endpoints. Exactly one method per request
/// (RFC 6749 section 2.3), and it must be the one the client registered: <c>client_secret_basic</c> (constant-time
/// hash comparison), <c>private_key_jwt</c> (RFC 7523: signed by a registered key, <c>iss</c> = <c>sub</c> = client
/// id, <c>aud</c> this issuer, short-lived, <c>jti</c> single-use across nodes), <c>tls_client_auth</c> (RFC 8705:
/// a certificate from a trusted client CA with the registered subject) or <c>self_signed_tls_client_auth</c> (the
/// registered certificate, pinned).
/// <para>
/// Nothing tells an outsider which client ids exist or how they authenticate: for a given kind of request, every
/// failure before the credentials are proven gets the same status and body ("Client authentication failed."), and
/// the same work: a secret is hashed, an assertion's signature checked and a certificate's chain built whether the id
/// is unknown, registered for another method, or registered for this one (unknown ids against throw-away keys). Ids
/// come from memory only (<see cref="ClientRegistry"/>), so no database round trip marks an unknown one. The audit
/// record keeps the real reason.
/// </para>
/// </summary>
internal sealed class ClientAuthenticator(
    ClientRegistry clients, ClientAssertionValidator assertions, ClientCertificateAuthorities authorities, TimeProvider time)
{
    private const string Failed = ClientAssertionValidator.FailedDescription;

    /// <summary>Authenticates the caller.</summary>
    /// <param name="context">The request.</param>
    /// <param name="form">Its form.</param>
    /// <param name="audiences">The <c>aud</c> values an assertion may carry: the issuer and the endpoint URL.</param>
    /// <param name="cancellationToken">Cancels store access.</param>
    /// <returns>The client, or the failure.</returns>
    public async Task<ClientAuthenticationResult> AuthenticateAsync(
        HttpContext context, OAuthForm form, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        var authorization = context.Request.Headers.Authorization;
        var hasBasic = authorization.Count > 0;
        var hasAssertion = form["client_assertion"] is not null || form["client_assertion_type"] is not null;
        var formClientId = form["client_id"];
        if (form["client_secret"] is not null)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "client_secret_post is not supported; send the secret with HTTP Basic.", formClientId, hasBasic);
        }

        if (hasBasic && hasAssertion)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidRequest,
                "Use exactly one client authentication method.", formClientId, basic: false);
        }

        if (hasBasic)
        {
            return await BasicAsync(authorization, formClientId, cancellationToken).ConfigureAwait(false);
        }

        if (hasAssertion)
        {
            return await AssertionAsync(form, audiences, cancellationToken).ConfigureAwait(false);
        }

        if (formClientId is not null)
        {
            return await CertificateAsync(context, formClientId, cancellationToken).ConfigureAwait(false);
        }

        return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMissing, OAuthResponses.InvalidClient, "Client authentication is required.", null, basic: true);
    }

    /// <summary>
    /// The registered client a request names, before it has authenticated: for the audit record of a refusal that comes
    /// first (a DPoP proof's own checks). Null when it names none, or an id that is not registered. Tells the caller nothing.
    /// </summary>
    public string? ClaimedClient(HttpContext context, OAuthForm form)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(form);
        var id = form["client_id"];
        if (id is null && context.Request.Headers.Authorization is [{ } value] && AuthenticationHeaderValue.TryParse(value, out var header)
            && string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && header.Parameter is { Length: > 0 and <= 1024 } parameter)
        {
            id = TryReadBasic(parameter, out var basicId, out _) ? basicId : null;
        }

        id ??= ClientAssertionValidator.ReadClaimedClientId(form["client_assertion"]);
        return id is not null && clients.Find(id) is not null ? id : null;
    }

    /// <summary>RFC 6749 section 2.3.1 Basic credentials: base64 of the form-encoded id and secret, joined by a colon.</summary>
    private static bool TryReadBasic(string parameter, out string clientId, out string secret)
    {
        (clientId, secret) = (string.Empty, string.Empty);
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(parameter));
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        clientId = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
        secret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
        return true;
    }

    private async Task<ClientAuthenticationResult> BasicAsync(
        Microsoft.Extensions.Primitives.StringValues authorization, string? formClientId, CancellationToken cancellationToken)
    {
        if (authorization.Count != 1 || !AuthenticationHeaderValue.TryParse(authorization[0], out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is not { Length: > 0 and <= 1024 } parameter)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "The Authorization header is not HTTP Basic client authentication.", formClientId, basic: true);
        }

        if (!TryReadBasic(parameter, out var clientId, out var secret))
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientSecretInvalid, OAuthResponses.InvalidClient, "The Basic credentials are malformed.", formClientId, basic: true);
        }

        if (formClientId is not null && formClientId != clientId)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidRequest,
                "client_id in the body differs from the Basic credentials.", clientId, basic: false);
        }

        var client = clients.Find(clientId);
        var claimed = ClientIds.IsWellFormed(clientId) ? clientId : null;

        // One hash whatever the id names: an unknown id or another method's client costs what a wrong secret costs.
        var secretMatches = ClientSecrets.Verify(secret, client?.AuthenticationMethod == ClientAuthenticationMethods.ClientSecretBasic ? client.SecretHash : Dummy);
        if (client is null)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientUnknown, OAuthResponses.InvalidClient, Failed, null, basic: true);
        }

        if (client.AuthenticationMethod != ClientAuthenticationMethods.ClientSecretBasic)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient, Failed, claimed, basic: true);
        }

        if (!secretMatches)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientSecretInvalid, OAuthResponses.InvalidClient, Failed, claimed, basic: true);
        }

        return client.Enabled
            ? ClientAuthenticationResult.Success(client, ClientAuthenticationMethods.ClientSecretBasic, null)
            : ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, Failed, claimed, basic: true);
    }

    private async Task<ClientAuthenticationResult> AssertionAsync(OAuthForm form, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        var formClientId = form["client_id"];
        if (form["client_assertion_type"] != ClientAssertionValidator.AssertionType || form["client_assertion"] is not { } assertion)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                $"client_assertion_type must be {ClientAssertionValidator.AssertionType}, with a client_assertion.", formClientId, basic: false);
        }

        // The issuer names the client; the signature decides whether it is.
        var issuer = ClientAssertionValidator.ReadClaimedClientId(assertion);
        if (issuer is null || (formClientId is not null && formClientId != issuer))
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                "The client assertion is not a JWT whose iss is the client id.", formClientId, basic: false);
        }

        var client = clients.Find(issuer);
        if (client is null || client.AuthenticationMethod != ClientAuthenticationMethods.PrivateKeyJwt || client.Jwks is null)
        {
            // The signature is checked anyway, against keys nobody holds, so this takes as long as a real client's bad signature.
            ClientAssertionValidator.CheckAgainstDecoys(assertion);
            return ClientAuthenticationResult.Fail(client is null ? SafeguardErrorCodes.ClientUnknown : SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed,
                OAuthResponses.InvalidClient, Failed, client?.ClientId, basic: false);
        }

        var result = assertions.Validate(assertion, client, audiences);
        if (!result.IsValid)
        {
            return ClientAuthenticationResult.Fail(result.ErrorCode!, OAuthResponses.InvalidClient, result.Description ?? "The client assertion is invalid.", client.ClientId, basic: false);
        }

        // Disabled after the signature (a valid assertion from a disabled client is not spent on the replay cache).
        if (!client.Enabled)
        {
            return ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, Failed, client.ClientId, basic: false);
        }

        result = await assertions.ConsumeAsync(client, result, cancellationToken).ConfigureAwait(false);
        return result.IsValid
            ? ClientAuthenticationResult.Success(client, ClientAuthenticationMethods.PrivateKeyJwt, null)
            : ClientAuthenticationResult.Fail(result.ErrorCode!, OAuthResponses.InvalidClient, result.Description ?? "The client assertion was used before.", client.ClientId, basic: false);
    }

    private Task<ClientAuthenticationResult> CertificateAsync(HttpContext context, string clientId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var client = clients.Find(clientId);
        var claimed = ClientIds.IsWellFormed(clientId) ? clientId : null;
        var certificate = context.Connection.ClientCertificate;
        var now = time.GetUtcNow();

        // The same work whatever the id names: the thumbprint, and the chain to the trusted client CAs.
        var thumbprint = certificate is null ? null : Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        var fromTrustedCa = certificate is not null && authorities.Validates(certificate, now);
        var method = client?.AuthenticationMethod;
        if (client is not null && method == ClientAuthenticationMethods.None && certificate is null)
        {
            // A public client (RFC 6749 section 2.1) names itself and proves nothing; only the code grant, where
            // PKCE binds the code to this instance of the app, accepts it (the grant handler checks).
            return Task.FromResult(client.Enabled
                ? ClientAuthenticationResult.Success(client, ClientAuthenticationMethods.None, null)
                : ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, Failed, claimed, basic: false));
        }

        if (client is null || method is not (ClientAuthenticationMethods.TlsClientAuth or ClientAuthenticationMethods.SelfSignedTlsClientAuth))
        {
            return Task.FromResult(ClientAuthenticationResult.Fail(client is null ? SafeguardErrorCodes.ClientUnknown : SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed,
                OAuthResponses.InvalidClient, Failed, client is null ? null : claimed, basic: false));
        }

        bool matches;
        if (certificate is null || thumbprint is null)
        {
            matches = false;
        }
        else if (method == ClientAuthenticationMethods.SelfSignedTlsClientAuth)
        {
            // RFC 8705 section 2.2: the registered certificate itself, pinned by its SHA-256 thumbprint.
            matches = client.CertificateThumbprint is not null
                && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(thumbprint), Encoding.ASCII.GetBytes(client.CertificateThumbprint))
                && certificate.NotBefore.ToUniversalTime() <= now.UtcDateTime && certificate.NotAfter.ToUniversalTime() >= now.UtcDateTime;
        }
        else
        {
            // RFC 8705 section 2.1.1: a certificate from a trusted CA whose subject is the registered one.
            matches = client.CertificateSubject is not null && SameSubject(certificate.SubjectName, client.CertificateSubject) && fromTrustedCa;
        }

        if (!matches)
        {
            return Task.FromResult(ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientCertificateInvalid, OAuthResponses.InvalidClient, Failed, claimed, basic: false));
        }

        return Task.FromResult(client.Enabled
            ? ClientAuthenticationResult.Success(client, method, thumbprint)
            : ClientAuthenticationResult.Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, Failed, claimed, basic: false));
    }

    /// <summary>
    /// Compares distinguished names in their RFC 4514 display form (<c>CN=..., O=...</c>, the order certificates are
    /// shown in), after the registered one passes through the same parser, so spacing and quoting do not matter.
    /// </summary>
    internal static bool SameSubject(X500DistinguishedName presented, string registered)
    {
        try
        {
            // RFC 4517 caseIgnoreMatch, which covers the usual subject attributes (CN, O, OU, L, ST, C).
            return string.Equals(
                presented.Decode(X500DistinguishedNameFlags.Reversed), new X500DistinguishedName(registered).Decode(X500DistinguishedNameFlags.Reversed), StringComparison.OrdinalIgnoreCase);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static readonly byte[] Dummy = ClientSecrets.Hash("unknown-client");
}
