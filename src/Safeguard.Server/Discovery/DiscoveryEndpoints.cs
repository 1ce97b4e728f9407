using System.Globalization;
using Microsoft.Extensions.Options;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Keys;
using Safeguard.Server.Authorize;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.Configuration;
using Safeguard.Server.OAuth;
using Safeguard.Server.Token;
using Safeguard.Sessions;

namespace Safeguard.Server.Discovery;

/// <summary>
/// Authorization server metadata (RFC 8414) at both well-known paths, and the JWKS. The JWKS may be cached for less
/// than the key propagation time, so a new key is in every client's cache before it signs.
/// </summary>
internal sealed class DiscoveryEndpoints(
    ServerEndpoints endpoints, SigningKeyRing ring, DpopProofValidator dpop, IOptions<ServerOptions> options, ClientCertificateAuthorities authorities,
    IEnumerable<ITokenGrantHandler> grants)
{
    private readonly ServerOptions _server = options.Value;

    private byte[]? _metadata;

    /// <summary>How long clients may cache the JWKS: a quarter of the propagation time, at most 5 minutes.</summary>
    public TimeSpan JwksMaxAge => TimeSpan.FromSeconds(Math.Clamp(ring.Options.PropagationTime.TotalSeconds / 4, 1, 300));

    /// <summary>The metadata document.</summary>
    public async Task MetadataAsync(HttpContext context)
    {
        var body = _metadata ??= BuildMetadata();
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "public, max-age=300";
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The JWKS.</summary>
    public async Task JwksAsync(HttpContext context)
    {
        var jwks = ring.GetJwks();
        context.Response.ContentType = "application/jwk-set+json";
        context.Response.Headers.CacheControl = "public, max-age=" + ((long)JwksMaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        await context.Response.Body.WriteAsync(jwks, context.RequestAborted).ConfigureAwait(false);
    }

    private byte[] BuildMetadata()
    {
        using var stream = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("issuer", endpoints.Issuer);
            writer.WriteString("token_endpoint", endpoints.TokenEndpoint);
            writer.WriteString("jwks_uri", endpoints.JwksUri);
            writer.WriteString("revocation_endpoint", endpoints.RevocationEndpoint);
            writer.WriteString("introspection_endpoint", endpoints.IntrospectionEndpoint);
            writer.WriteString("safeguard_revocation_feed_endpoint", endpoints.Issuer + Revocation.RevocationFeedEndpoint.Path);
            WriteArray(writer, "grant_types_supported", grants.Select(g => g.GrantType));
            var codeFlow = grants.Any(g => g.GrantType == GrantTypes.AuthorizationCode);
            if (codeFlow)
            {
                writer.WriteString("authorization_endpoint", endpoints.Issuer + AuthorizeEndpoint.Path);
                writer.WriteString("end_session_endpoint", endpoints.Issuer + "/logout");
                writer.WriteString("pushed_authorization_request_endpoint", endpoints.PushedAuthorizationEndpoint);
                writer.WriteBoolean("require_pushed_authorization_requests", false);
                writer.WriteBoolean("backchannel_logout_supported", true);
                writer.WriteBoolean("backchannel_logout_session_supported", true);
                writer.WriteString("userinfo_endpoint", endpoints.Issuer + "/userinfo");
            }

            // Exactly what is built: the code flow with PKCE S256 and the iss response parameter (RFC 9207); no
            // implicit or hybrid response types, no password grant.
            WriteArray(writer, "response_types_supported", codeFlow ? ["code"] : []);
            if (codeFlow)
            {
                WriteArray(writer, "response_modes_supported", ["query"]);
                WriteArray(writer, "code_challenge_methods_supported", ["S256"]);
                writer.WriteBoolean("authorization_response_iss_parameter_supported", true);
                WriteArray(writer, "subject_types_supported", ["public"]);
                WriteArray(writer, "id_token_signing_alg_values_supported", [ring.Options.Algorithm]);
                WriteArray(writer, "prompt_values_supported", ["none", "login", "consent"]);
                WriteArray(writer, "acr_values_supported", [AuthenticationContext.Aal2, AuthenticationContext.Aal1]);
                WriteArray(writer, "claims_supported", ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "preferred_username", "email"]);
                writer.WriteBoolean("request_parameter_supported", false);
                writer.WriteBoolean("request_uri_parameter_supported", false);
            }
            // Only the methods this configuration can honour: mutual TLS needs client certificates, and PKI mode a CA.
            var methods = ClientAuthenticationMethods.All.Where(m => m switch
            {
                ClientAuthenticationMethods.None => codeFlow,
                ClientAuthenticationMethods.TlsClientAuth => _server.Tls.AllowClientCertificates && authorities.Configured,
                ClientAuthenticationMethods.SelfSignedTlsClientAuth => _server.Tls.AllowClientCertificates,
                _ => true,
            }).ToArray();
            WriteArray(writer, "token_endpoint_auth_methods_supported", methods);
            WriteArray(writer, "token_endpoint_auth_signing_alg_values_supported", SigningAlgorithms.All);
            WriteArray(writer, "revocation_endpoint_auth_methods_supported", methods);
            WriteArray(writer, "revocation_endpoint_auth_signing_alg_values_supported", SigningAlgorithms.All);
            WriteArray(writer, "introspection_endpoint_auth_methods_supported", methods.Where(m => m != ClientAuthenticationMethods.None));
            WriteArray(writer, "introspection_endpoint_auth_signing_alg_values_supported", SigningAlgorithms.All);
            WriteArray(writer, "dpop_signing_alg_values_supported", dpop.Algorithms);
            WriteArray(writer, "scopes_supported", codeFlow ? ["openid"] : []);
            writer.WriteBoolean("tls_client_certificate_bound_access_tokens", _server.Tls.AllowClientCertificates);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteArray(System.Text.Json.Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }
}
