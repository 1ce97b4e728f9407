using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;
using Safeguard.Tokens;

namespace Safeguard.Server.Token;

/// <summary>
/// The client-credentials grant (RFC 6749 section 4.4): a token for the client itself (<c>sub</c> = <c>client_id</c>),
/// with the scopes it asks for within those it may have (all of them when it asks for none) and an audience from its
/// resource indicators (RFC 8707; its first resource when it names none).
/// </summary>
internal sealed class ClientCredentialsGrant(AccessTokenIssuer issuer, ServerAudit audit, ServerMetrics metrics) : ITokenGrantHandler
{
    public string GrantType => GrantTypes.ClientCredentials;

    public async Task HandleAsync(TokenRequest request)
    {
        var client = request.Client.Client;
        var form = request.Form;
        IReadOnlyList<string> scopes = client.AllowedScopes;
        if (form["scope"] is { } requestedScope)
        {
            var requested = requestedScope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (requested.Length == 0 || requested.Any(s => !ClientRegistrationValidator.IsScopeToken(s) || !client.AllowedScopes.Contains(s, StringComparer.Ordinal)))
            {
                await request.RefuseAsync(audit, 400, OAuthResponses.InvalidScope, "A requested scope is not allowed for this client.", SafeguardErrorCodes.ScopeNotAllowed).ConfigureAwait(false);
                return;
            }

            scopes = [.. requested.Distinct(StringComparer.Ordinal)];
        }

        string[] audiences = form.Resources.Count > 0 ? [.. form.Resources.Distinct(StringComparer.Ordinal)] : [.. client.AllowedResources.Take(1)];
        if (audiences.Length == 0 || audiences.Any(r => !ClientRegistrationValidator.IsResourceIndicator(r) || !client.AllowedResources.Contains(r, StringComparer.Ordinal)))
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidTarget, "A requested resource is not allowed for this client.", SafeguardErrorCodes.ResourceNotAllowed).ConfigureAwait(false);
            return;
        }

        var certificate = request.Client.CertificateThumbprint;
        var issued = issuer.Issue(new AccessTokenRequest
        {
            Subject = client.ClientId,
            ClientId = client.ClientId,
            Audiences = audiences,
            Scopes = scopes,
            ConfirmationJwkThumbprint = request.DpopThumbprint,
            ConfirmationCertificateThumbprint = certificate,
        });
        if (!issued.Succeeded)
        {
            await request.RefuseAsync(audit, 503, OAuthResponses.TemporarilyUnavailable, "No token can be issued now.", issued.ErrorCode).ConfigureAwait(false);
            return;
        }

        // The token exists only in memory until its issuance is durable in the audit trail.
        var context = request.Context;
        var auditEvent = audit.Create(context, AuditEventType.TokenIssued, AuditOutcome.Success, client.ClientId, $"grant={GrantType} auth={request.Client.Method}", 200) with
        {
            Subject = client.ClientId,
            TokenId = issued.TokenId,
            ConfirmationThumbprint = request.DpopThumbprint ?? certificate,
            Action = AuditAction.Create,
            ResourceType = "access_token",
            ResourceId = string.Join(' ', audiences),
        };
        if (!await audit.RecordOrRefuseAsync(context, auditEvent).ConfigureAwait(false))
        {
            return;
        }

        metrics.TokenIssued(GrantType);
        var response = context.Response;
        response.StatusCode = 200;
        OAuthResponses.NoStore(response);
        response.ContentType = "application/json";
        var expiresIn = (long)Math.Max(0, (issued.ExpiresAt - auditEvent.Time).TotalSeconds);
        await OAuthResponses.WriteJsonAsync(response, writer =>
        {
            writer.WriteString("access_token", issued.Token);
            writer.WriteString("token_type", request.DpopThumbprint is null ? "Bearer" : "DPoP");
            writer.WriteNumber("expires_in", expiresIn);
            if (scopes.Count > 0)
            {
                writer.WriteString("scope", string.Join(' ', scopes));
            }
        }).ConfigureAwait(false);
    }
}
