using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Server.Hosting;
using Safeguard.Server.Services;

namespace Safeguard.Server.Protocol;

/// <summary>A client that proved who it is.</summary>
/// <param name="Client">The client.</param>
/// <param name="Method">The method it used.</param>
/// <param name="CertificateThumbprint">For the mutual-TLS methods: the certificate's SHA-256 thumbprint (base64url), for <c>cnf.x5t#S256</c>.</param>
internal sealed record AuthenticatedClient(Client Client, string Method, string? CertificateThumbprint);

/// <summary>
/// Why client authentication failed. <see cref="ClaimedClientId"/> is the claimed id when it names a registered client;
/// an unknown id is never recorded (it may be a secret typed into the wrong field).
/// </summary>
internal sealed record ClientAuthenticationFailure(string Code, string OAuthError, string Description, string? ClaimedClientId, bool BasicChallenge);

/// <summary>
/// Client authentication at the token, revocation and introspection endpoints. Exactly one method per request
/// (RFC 6749 section 2.3), and it must be the one the client registered: <c>client_secret_basic</c> (constant-time
/// hash comparison), <c>private_key_jwt</c> (RFC 7523: signed by a registered key, <c>iss</c> = <c>sub</c> = client
/// id, <c>aud</c> this issuer, short-lived, <c>jti</c> single-use across nodes), <c>tls_client_auth</c> (RFC 8705:
/// a certificate from a trusted client CA with the registered subject) or <c>self_signed_tls_client_auth</c> (the
/// registered certificate, pinned).
/// </summary>
internal sealed partial class ClientAuthenticator(
    ClientRegistry clients, IReplayCache replay, ClientCertificateAuthorities authorities, TimeProvider time, ILogger<ClientAuthenticator> logger)
{
    /// <summary>RFC 7523 section 2.2.</summary>
    public const string JwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// <summary>The longest an assertion may live (exp - now).</summary>
    public static readonly TimeSpan MaxAssertionLifetime = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);
    private static readonly string[] AssertionAlgorithms = ["ES256", "ES384", "PS256", "RS256"];
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = 8192 };
    private readonly ConcurrentDictionary<string, (DateTimeOffset Version, IReadOnlyList<SecurityKey> Keys)> _jwksCache = new(StringComparer.Ordinal);

    /// <summary>Authenticates the caller.</summary>
    /// <param name="context">The request.</param>
    /// <param name="form">Its form.</param>
    /// <param name="audiences">The <c>aud</c> values an assertion may carry: the issuer and the endpoint URL.</param>
    /// <param name="cancellationToken">Cancels store access.</param>
    /// <returns>The client, or the failure.</returns>
    public async Task<(AuthenticatedClient? Client, ClientAuthenticationFailure? Failure)> AuthenticateAsync(
        HttpContext context, OAuthForm form, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        var authorization = context.Request.Headers.Authorization;
        var hasBasic = authorization.Count > 0;
        var hasAssertion = form["client_assertion"] is not null || form["client_assertion_type"] is not null;
        var formClientId = form["client_id"];
        if (form["client_secret"] is not null)
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "client_secret_post is not supported; send the secret with HTTP Basic.", formClientId, hasBasic);
        }

        if (hasBasic && hasAssertion)
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidRequest,
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

        return Fail(SafeguardErrorCodes.ClientAuthenticationMissing, OAuthResponses.InvalidClient, "Client authentication is required.", null, basic: true);
    }

    private async Task<(AuthenticatedClient?, ClientAuthenticationFailure?)> BasicAsync(
        Microsoft.Extensions.Primitives.StringValues authorization, string? formClientId, CancellationToken cancellationToken)
    {
        if (authorization.Count != 1 || !AuthenticationHeaderValue.TryParse(authorization[0], out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is not { Length: > 0 and <= 1024 } parameter)
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "The Authorization header is not HTTP Basic client authentication.", formClientId, basic: true);
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(parameter));
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            return Fail(SafeguardErrorCodes.ClientSecretInvalid, OAuthResponses.InvalidClient, "The Basic credentials are malformed.", formClientId, basic: true);
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return Fail(SafeguardErrorCodes.ClientSecretInvalid, OAuthResponses.InvalidClient, "The Basic credentials are malformed.", formClientId, basic: true);
        }

        // RFC 6749 section 2.3.1: id and secret are form-encoded before they are joined.
        var clientId = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
        var secret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
        if (formClientId is not null && formClientId != clientId)
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidRequest,
                "client_id in the body differs from the Basic credentials.", clientId, basic: false);
        }

        var client = await clients.FindAsync(clientId, cancellationToken).ConfigureAwait(false);
        var claimed = ClientIds.IsWellFormed(clientId) ? clientId : null;
        if (client is null)
        {
            // Hash anyway, so an unknown id takes as long as a wrong secret.
            ClientSecrets.Verify(secret, Dummy);
            return Fail(SafeguardErrorCodes.ClientUnknown, OAuthResponses.InvalidClient, "Client authentication failed.", null, basic: true);
        }

        if (client.AuthenticationMethod != ClientAuthenticationMethods.ClientSecretBasic)
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "Client authentication failed.", claimed, basic: true);
        }

        if (!ClientSecrets.Verify(secret, client.SecretHash))
        {
            return Fail(SafeguardErrorCodes.ClientSecretInvalid, OAuthResponses.InvalidClient, "Client authentication failed.", claimed, basic: true);
        }

        return client.Enabled
            ? (new AuthenticatedClient(client, ClientAuthenticationMethods.ClientSecretBasic, null), null)
            : Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, "Client authentication failed.", claimed, basic: true);
    }

    private async Task<(AuthenticatedClient?, ClientAuthenticationFailure?)> AssertionAsync(
        OAuthForm form, IReadOnlyList<string> audiences, CancellationToken cancellationToken)
    {
        var formClientId = form["client_id"];
        if (form["client_assertion_type"] != JwtBearerAssertionType || form["client_assertion"] is not { } assertion)
        {
            return Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                $"client_assertion_type must be {JwtBearerAssertionType}, with a client_assertion.", formClientId, basic: false);
        }

        // The issuer names the client; the signature decides whether it is.
        string? issuer;
        try
        {
            issuer = assertion.Length <= 8192 && _handler.CanReadToken(assertion) ? _handler.ReadJsonWebToken(assertion).Issuer : null;
        }
        catch (ArgumentException)
        {
            issuer = null;
        }

        if (issuer is null || !ClientIds.IsWellFormed(issuer) || (formClientId is not null && formClientId != issuer))
        {
            return Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                "The client assertion is not a JWT whose iss is the client id.", formClientId, basic: false);
        }

        var client = await clients.FindAsync(issuer, cancellationToken).ConfigureAwait(false);
        if (client is null || client.AuthenticationMethod != ClientAuthenticationMethods.PrivateKeyJwt || client.Jwks is null)
        {
            return Fail(client is null ? SafeguardErrorCodes.ClientUnknown : SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed,
                OAuthResponses.InvalidClient, "Client authentication failed.", client?.ClientId, basic: false);
        }

        var keys = SigningKeysOf(client);
        var now = time.GetUtcNow();
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = client.ClientId,
            ValidAudiences = audiences,
            AudienceValidator = (tokenAudiences, _, _) =>
                tokenAudiences.Count() == 1 && audiences.Contains(tokenAudiences.First(), StringComparer.Ordinal),
            IssuerSigningKeys = keys,
            ValidAlgorithms = AssertionAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = Skew,
            TryAllIssuerSigningKeys = true,
            LifetimeValidator = (notBefore, expires, _, _) =>
                expires is { } exp && exp.ToUniversalTime() > now.UtcDateTime - Skew && exp.ToUniversalTime() <= now.UtcDateTime + MaxAssertionLifetime + Skew
                && (notBefore is null || notBefore.Value.ToUniversalTime() <= now.UtcDateTime + Skew),
            TypeValidator = (type, _, _) => type is null or "" or "JWT" or "client-authentication+jwt"
                ? type ?? string.Empty
                : throw new SecurityTokenInvalidTypeException("The assertion's typ is not a client assertion."),
        };
        var result = await _handler.ValidateTokenAsync(assertion, parameters).ConfigureAwait(false);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            LogAssertionRejected(logger, client.ClientId, result.Exception);
            return Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                "The client assertion is invalid (signature, audience, lifetime or type).", client.ClientId, basic: false);
        }

        if (token.Subject != client.ClientId || token.Id is not { Length: > 0 and <= 256 } jti)
        {
            return Fail(SafeguardErrorCodes.ClientAssertionInvalid, OAuthResponses.InvalidClient,
                "The client assertion needs sub equal to the client id and a jti.", client.ClientId, basic: false);
        }

        if (!client.Enabled)
        {
            return Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, "Client authentication failed.", client.ClientId, basic: false);
        }

        var keepUntil = new DateTimeOffset(token.ValidTo, TimeSpan.Zero) + Skew;
        if (!await replay.TryAddAsync("client_assertion", client.ClientId + ":" + jti, keepUntil, cancellationToken).ConfigureAwait(false))
        {
            return Fail(SafeguardErrorCodes.ClientAssertionReplayed, OAuthResponses.InvalidClient, "The client assertion was used before.", client.ClientId, basic: false);
        }

        return (new AuthenticatedClient(client, ClientAuthenticationMethods.PrivateKeyJwt, null), null);
    }

    private async Task<(AuthenticatedClient?, ClientAuthenticationFailure?)> CertificateAsync(HttpContext context, string clientId, CancellationToken cancellationToken)
    {
        var client = await clients.FindAsync(clientId, cancellationToken).ConfigureAwait(false);
        var claimed = ClientIds.IsWellFormed(clientId) ? clientId : null;
        if (client is null)
        {
            return Fail(SafeguardErrorCodes.ClientUnknown, OAuthResponses.InvalidClient, "Client authentication failed.", null, basic: false);
        }

        var method = client.AuthenticationMethod;
        if (method is not (ClientAuthenticationMethods.TlsClientAuth or ClientAuthenticationMethods.SelfSignedTlsClientAuth))
        {
            return Fail(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, OAuthResponses.InvalidClient,
                "Client authentication failed.", claimed, basic: method == ClientAuthenticationMethods.ClientSecretBasic);
        }

        var certificate = context.Connection.ClientCertificate;
        if (certificate is null)
        {
            return Fail(SafeguardErrorCodes.ClientCertificateInvalid, OAuthResponses.InvalidClient, "No client certificate was presented.", claimed, basic: false);
        }

        var thumbprint = Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        var now = time.GetUtcNow();
        bool matches;
        if (method == ClientAuthenticationMethods.SelfSignedTlsClientAuth)
        {
            // RFC 8705 section 2.2: the registered certificate itself, pinned by its SHA-256 thumbprint.
            matches = client.CertificateThumbprint is not null
                && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(thumbprint), Encoding.ASCII.GetBytes(client.CertificateThumbprint))
                && certificate.NotBefore.ToUniversalTime() <= now.UtcDateTime && certificate.NotAfter.ToUniversalTime() >= now.UtcDateTime;
        }
        else
        {
            // RFC 8705 section 2.1.1: a certificate from a trusted CA whose subject is the registered one.
            matches = client.CertificateSubject is not null && SameSubject(certificate.SubjectName, client.CertificateSubject)
                && authorities.Validates(certificate, now);
        }

        if (!matches)
        {
            return Fail(SafeguardErrorCodes.ClientCertificateInvalid, OAuthResponses.InvalidClient,
                "The client certificate is not the registered one, is not from a trusted CA, or is not valid now.", claimed, basic: false);
        }

        return client.Enabled
            ? (new AuthenticatedClient(client, method, thumbprint), null)
            : Fail(SafeguardErrorCodes.ClientDisabled, OAuthResponses.InvalidClient, "Client authentication failed.", claimed, basic: false);
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

    private IReadOnlyList<SecurityKey> SigningKeysOf(Client client)
    {
        if (_jwksCache.TryGetValue(client.ClientId, out var cached) && cached.Version == client.UpdatedAt)
        {
            return cached.Keys;
        }

        IReadOnlyList<SecurityKey> keys;
        try
        {
            keys = [.. new JsonWebKeySet(client.Jwks).GetSigningKeys().Where(k => k is JsonWebKey { HasPrivateKey: false } or not JsonWebKey)];
        }
        catch (ArgumentException)
        {
            keys = [];
        }

        _jwksCache[client.ClientId] = (client.UpdatedAt, keys);
        return keys;
    }

    private static readonly byte[] Dummy = ClientSecrets.Hash("unknown-client");

    private static (AuthenticatedClient?, ClientAuthenticationFailure?) Fail(string code, string error, string description, string? claimed, bool basic) =>
        (null, new ClientAuthenticationFailure(code, error, description, claimed is not null && ClientIds.IsWellFormed(claimed) ? claimed : null, basic));

    [LoggerMessage(Level = LogLevel.Information, Message = "Client assertion from {ClientId} rejected.")]
    private static partial void LogAssertionRejected(ILogger logger, string clientId, Exception? exception);
}
