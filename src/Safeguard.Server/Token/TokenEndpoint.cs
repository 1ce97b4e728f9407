using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Token;

/// <summary>
/// <c>POST /token</c>. Reads the form, checks the DPoP proof (RFC 9449) and authenticates the client once, then hands
/// the request to the handler of its grant type (<see cref="ITokenGrantHandler"/>): a new grant is a new handler, not
/// a new branch here. Every refusal is an audit event before it is answered; a token is released only once its
/// issuance is durable (the handlers use <see cref="ServerAudit.RecordOrRefuseAsync"/>).
/// </summary>
internal sealed class TokenEndpoint
{
    private readonly ServerEndpoints _endpoints;
    private readonly ClientAuthenticator _authenticator;
    private readonly DpopProofValidator _dpop;
    private readonly ServerAudit _audit;
    private readonly Dictionary<string, ITokenGrantHandler> _grants;

    public TokenEndpoint(ServerEndpoints endpoints, ClientAuthenticator authenticator, DpopProofValidator dpop, ServerAudit audit, IEnumerable<ITokenGrantHandler> grants)
    {
        _endpoints = endpoints;
        _authenticator = authenticator;
        _dpop = dpop;
        _audit = audit;
        _grants = grants.ToDictionary(g => g.GrantType, StringComparer.Ordinal);
    }

    /// <summary>The grant types this server implements, for discovery.</summary>
    public IReadOnlyCollection<string> GrantTypes => _grants.Keys;

    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var read = await OAuthForm.ReadAsync(context.Request, cancellationToken).ConfigureAwait(false);
        if (!read.IsValid)
        {
            await RefuseAsync(context, read.Status, OAuthResponses.InvalidRequest, read.Error, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        var form = read.Form;
        var grantType = form["grant_type"];
        if (grantType is null)
        {
            await RefuseAsync(context, 400, OAuthResponses.InvalidRequest, "grant_type is required.", SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        // DPoP first (RFC 9449 section 8): a client told to retry with a nonce must not have spent its one-time
        // client assertion on the attempt. At most one proof; its stateless checks now, its jti recorded only once
        // the client has authenticated, so an anonymous caller cannot make the server write.
        var proofs = context.Request.Headers["DPoP"];
        if (proofs.Count > 1)
        {
            await RefuseAsync(context, 400, OAuthResponses.InvalidDpopProof, "Send exactly one DPoP header.", SafeguardErrorCodes.DpopProofMalformed, null).ConfigureAwait(false);
            return;
        }

        DpopProofCheck? proof = null;
        if (proofs.Count == 1)
        {
            var check = _dpop.Verify(proofs[0], HttpMethods.Post, _endpoints.TokenEndpointUri, null);
            context.Response.Headers["DPoP-Nonce"] = _dpop.CurrentNonce();
            if (!await AcceptProofAsync(context, check.Result, null, _authenticator.ClaimedClient(context, form)).ConfigureAwait(false))
            {
                return;
            }

            proof = check;
        }

        var authentication = await _authenticator.AuthenticateAsync(context, form, _endpoints.TokenAudiences, cancellationToken).ConfigureAwait(false);
        if (!authentication.Succeeded)
        {
            await _audit.RefuseClientAsync(context, AuditEventType.TokenRefused, AuditAction.Create, authentication.Failure).ConfigureAwait(false);
            return;
        }

        var client = authentication.Client.Client;
        string? jkt = null;
        if (proof is { } verified)
        {
            var consumed = await _dpop.ConsumeAsync(verified, cancellationToken).ConfigureAwait(false);
            if (!await AcceptProofAsync(context, consumed, client.ClientId, null).ConfigureAwait(false))
            {
                return;
            }

            jkt = consumed.JwkThumbprint;
        }

        if (!_grants.TryGetValue(grantType, out var handler))
        {
            await RefuseAsync(context, 400, OAuthResponses.UnsupportedGrantType, $"Supported grant types: {string.Join(", ", _grants.Keys)}.", SafeguardErrorCodes.GrantTypeUnsupported, client.ClientId).ConfigureAwait(false);
            return;
        }

        if (!client.GrantTypes.Contains(grantType, StringComparer.Ordinal)
            || (authentication.Client.Method == ClientAuthenticationMethods.None && grantType is not (Clients.GrantTypes.AuthorizationCode or Clients.GrantTypes.RefreshToken)))
        {
            await RefuseAsync(context, 400, OAuthResponses.UnauthorizedClient, $"The client may not use {grantType}.", SafeguardErrorCodes.GrantTypeNotAllowed, client.ClientId).ConfigureAwait(false);
            return;
        }

        if (jkt is null && client.RequireDpop)
        {
            context.Response.Headers["DPoP-Nonce"] = _dpop.CurrentNonce();
            await RefuseAsync(context, 400, OAuthResponses.InvalidRequest, "This client must send a DPoP proof.", SafeguardErrorCodes.DpopRequired, client.ClientId).ConfigureAwait(false);
            return;
        }

        await handler.HandleAsync(new TokenRequest(context, form, authentication.Client, jkt)).ConfigureAwait(false);
    }

    /// <summary>True for a good proof; otherwise refuses with <c>use_dpop_nonce</c> or <c>invalid_dpop_proof</c>.</summary>
    /// <param name="context">The request.</param>
    /// <param name="proof">The proof's result.</param>
    /// <param name="clientId">The authenticated client, or null before authentication.</param>
    /// <param name="claimedClientId">Before authentication: the registered client the request names, for the record.</param>
    private async Task<bool> AcceptProofAsync(HttpContext context, DpopProofResult proof, string? clientId, string? claimedClientId)
    {
        if (proof.Succeeded)
        {
            return true;
        }

        var error = proof.NeedsNonce ? OAuthResponses.UseDpopNonce : OAuthResponses.InvalidDpopProof;
        var description = proof.Description ?? "The DPoP proof is invalid.";
        var code = proof.ErrorCode ?? SafeguardErrorCodes.DpopProofMalformed;
        if (clientId is null)
        {
            await _audit.RefuseUnauthenticatedAsync(context, AuditEventType.TokenRefused, AuditAction.Create, 400, error, description, code, claimedClientId).ConfigureAwait(false);
        }
        else
        {
            await RefuseAsync(context, 400, error, description, code, clientId).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Refuses: summarised with its repeats while no client has authenticated (<paramref name="clientId"/> null), one by one after.</summary>
    private Task RefuseAsync(HttpContext context, int status, string error, string description, string code, string? clientId) => clientId is null
        ? _audit.RefuseUnauthenticatedAsync(context, AuditEventType.TokenRefused, AuditAction.Create, status, error, description, code, null)
        : _audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Create, status, error, description, code, clientId);
}
