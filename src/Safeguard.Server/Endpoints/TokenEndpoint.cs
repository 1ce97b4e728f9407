using System.Diagnostics.Metrics;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Server.Protocol;
using Safeguard.Server.Services;
using Safeguard.Tokens;

namespace Safeguard.Server.Endpoints;

/// <summary>
/// <c>POST /token</c>: the client-credentials grant (RFC 6749 section 4.4) with client authentication, resource
/// indicators (RFC 8707), scope checks and DPoP (RFC 9449). Every issuance and every refusal is an audit event; a
/// token is released only once its event is durable.
/// </summary>
internal sealed class TokenEndpoint(
    ServerEndpoints endpoints,
    ClientAuthenticator authenticator,
    DpopProofValidator dpop,
    AccessTokenIssuer issuer,
    ServerAudit audit,
    ServerMetrics metrics)
{
    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var (form, formError, formStatus) = await OAuthForm.ReadAsync(context.Request, cancellationToken).ConfigureAwait(false);
        if (form is null)
        {
            await RefuseAsync(context, formStatus, OAuthResponses.InvalidRequest, formError!, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        var grantType = form["grant_type"];
        if (grantType is null)
        {
            await RefuseAsync(context, 400, OAuthResponses.InvalidRequest, "grant_type is required.", SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        // DPoP first (RFC 9449 section 8): a client told to retry with a nonce must not have spent its one-time
        // client assertion on the attempt. At most one proof; required when the client is registered so.
        string? jkt = null;
        var proofs = context.Request.Headers["DPoP"];
        if (proofs.Count > 1)
        {
            await RefuseAsync(context, 400, OAuthResponses.InvalidDpopProof, "Send exactly one DPoP header.", SafeguardErrorCodes.DpopProofMalformed, null).ConfigureAwait(false);
            return;
        }

        // Stateless checks now; the proof's jti is recorded only once the client has authenticated, so an
        // anonymous caller cannot make the server write.
        DpopProofCheck? proofCheck = null;
        if (proofs.Count == 1)
        {
            var check = dpop.Verify(proofs[0], HttpMethods.Post, endpoints.TokenEndpointUri, null);
            context.Response.Headers["DPoP-Nonce"] = dpop.CurrentNonce();
            if (!await AcceptProofAsync(context, check.Result, null).ConfigureAwait(false))
            {
                return;
            }

            proofCheck = check;
        }

        var (authenticated, failure) = await authenticator.AuthenticateAsync(context, form, endpoints.TokenAudiences, cancellationToken).ConfigureAwait(false);
        if (authenticated is null)
        {
            await audit.RefuseClientAsync(context, AuditEventType.TokenRefused, AuditAction.Create, failure!).ConfigureAwait(false);
            return;
        }

        var client = authenticated.Client;
        if (proofCheck is { } verified)
        {
            var consumed = await dpop.ConsumeAsync(verified, cancellationToken).ConfigureAwait(false);
            if (!await AcceptProofAsync(context, consumed, client.ClientId).ConfigureAwait(false))
            {
                return;
            }

            jkt = consumed.JwkThumbprint;
        }

        if (grantType != GrantTypes.ClientCredentials)
        {
            await RefuseAsync(context, 400, OAuthResponses.UnsupportedGrantType, "Only client_credentials is supported here.", SafeguardErrorCodes.GrantTypeUnsupported, client.ClientId).ConfigureAwait(false);
            return;
        }

        if (!client.GrantTypes.Contains(GrantTypes.ClientCredentials, StringComparer.Ordinal))
        {
            await RefuseAsync(context, 400, OAuthResponses.UnauthorizedClient, "The client may not use client_credentials.", SafeguardErrorCodes.GrantTypeNotAllowed, client.ClientId).ConfigureAwait(false);
            return;
        }

        // Scopes: requested ones must all be allowed; none requested means all the client is allowed.
        IReadOnlyList<string> scopes = client.AllowedScopes;
        if (form["scope"] is { } requestedScope)
        {
            var requested = requestedScope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (requested.Length == 0 || requested.Any(s => !IsScopeToken(s) || !client.AllowedScopes.Contains(s, StringComparer.Ordinal)))
            {
                await RefuseAsync(context, 400, OAuthResponses.InvalidScope, "A requested scope is not allowed for this client.", SafeguardErrorCodes.ScopeNotAllowed, client.ClientId).ConfigureAwait(false);
                return;
            }

            scopes = [.. requested.Distinct(StringComparer.Ordinal)];
        }

        // Audience: the resource indicators (RFC 8707), each allowed for the client; the client's first by default.
        string[] audiences = form.Resources.Count > 0 ? [.. form.Resources.Distinct(StringComparer.Ordinal)] : client.AllowedResources.Take(1).ToArray();
        if (audiences.Length == 0 || audiences.Any(r => !IsResource(r) || !client.AllowedResources.Contains(r, StringComparer.Ordinal)))
        {
            await RefuseAsync(context, 400, OAuthResponses.InvalidTarget, "A requested resource is not allowed for this client.", SafeguardErrorCodes.ResourceNotAllowed, client.ClientId).ConfigureAwait(false);
            return;
        }

        if (jkt is null && client.RequireDpop)
        {
            context.Response.Headers["DPoP-Nonce"] = dpop.CurrentNonce();
            await RefuseAsync(context, 400, OAuthResponses.InvalidRequest, "This client must send a DPoP proof.", SafeguardErrorCodes.DpopRequired, client.ClientId).ConfigureAwait(false);
            return;
        }

        var issued = issuer.Issue(new AccessTokenRequest
        {
            Subject = client.ClientId,
            ClientId = client.ClientId,
            Audiences = audiences,
            Scopes = scopes,
            ConfirmationJwkThumbprint = jkt,
            ConfirmationCertificateThumbprint = authenticated.CertificateThumbprint,
        });
        if (!issued.Succeeded)
        {
            await RefuseAsync(context, 503, OAuthResponses.TemporarilyUnavailable, "No token can be issued now.", issued.ErrorCode!, client.ClientId).ConfigureAwait(false);
            return;
        }

        // The token exists only in memory until its issuance is durable in the audit trail.
        var auditEvent = audit.Create(context, AuditEventType.TokenIssued, AuditOutcome.Success, client.ClientId, $"grant=client_credentials auth={authenticated.Method}", 200) with
        {
            Subject = client.ClientId,
            TokenId = issued.TokenId,
            ConfirmationThumbprint = jkt ?? authenticated.CertificateThumbprint,
            Action = AuditAction.Create,
            ResourceType = "access_token",
            ResourceId = string.Join(' ', audiences),
        };
        if (!await audit.RecordOrRefuseAsync(context, auditEvent).ConfigureAwait(false))
        {
            return;
        }

        metrics.TokenIssued(GrantTypes.ClientCredentials);
        var response = context.Response;
        response.StatusCode = 200;
        OAuthResponses.NoStore(response);
        response.ContentType = "application/json";
        var expiresIn = (long)Math.Max(0, (issued.ExpiresAt - auditEvent.Time).TotalSeconds);
        await OAuthResponses.WriteJsonAsync(response, writer =>
        {
            writer.WriteString("access_token", issued.Token);
            writer.WriteString("token_type", jkt is null ? "Bearer" : "DPoP");
            writer.WriteNumber("expires_in", expiresIn);
            if (scopes.Count > 0)
            {
                writer.WriteString("scope", string.Join(' ', scopes));
            }
        }).ConfigureAwait(false);
    }

    /// <summary>True for a good proof; otherwise refuses with <c>use_dpop_nonce</c> or <c>invalid_dpop_proof</c>.</summary>
    private async Task<bool> AcceptProofAsync(HttpContext context, DpopProofResult proof, string? clientId)
    {
        if (proof.Succeeded)
        {
            return true;
        }

        var error = proof.NeedsNonce ? OAuthResponses.UseDpopNonce : OAuthResponses.InvalidDpopProof;
        await RefuseAsync(context, 400, error, proof.Description ?? "The DPoP proof is invalid.", proof.ErrorCode!, clientId).ConfigureAwait(false);
        return false;
    }

    private Task RefuseAsync(HttpContext context, int status, string error, string description, string code, string? clientId) =>
        audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Create, status, error, description, code, clientId);

    /// <summary>RFC 6749 appendix A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).</summary>
    private static bool IsScopeToken(string scope) => scope.Length <= 128 && scope.All(c => c == '!' || (c >= '#' && c <= '[') || (c >= ']' && c <= '~'));

    /// <summary>RFC 8707 section 2: an absolute URI without a fragment.</summary>
    private static bool IsResource(string resource) =>
        resource.Length <= 2048 && Uri.TryCreate(resource, UriKind.Absolute, out var uri) && uri.Fragment.Length == 0 && !resource.Contains('#', StringComparison.Ordinal);

}

/// <summary>The server's meter: tokens issued and refused, audit outages. No secrets and no client data beyond counts.</summary>
internal sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "Safeguard.Server";
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _issued;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _auditUnavailable;

    public ServerMetrics()
    {
        _issued = _meter.CreateCounter<long>("safeguard.tokens.issued", description: "Access tokens issued.");
        _refused = _meter.CreateCounter<long>("safeguard.tokens.refused", description: "Token requests refused, by OAuth error.");
        _auditUnavailable = _meter.CreateCounter<long>("safeguard.audit.unavailable", description: "Requests answered 503 because the audit trail could not record them.");
    }

    public void TokenIssued(string grantType) => _issued.Add(1, new KeyValuePair<string, object?>("grant_type", grantType));

    public void TokenRefused(string error) => _refused.Add(1, new KeyValuePair<string, object?>("error", error));

    public void AuditUnavailable() => _auditUnavailable.Add(1);

    public void Dispose() => _meter.Dispose();
}
