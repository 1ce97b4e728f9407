using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Tokens;

namespace Safeguard.Server.Revocation;

/// <summary>
/// <c>POST /revoke</c> (RFC 7009). The caller authenticates like at the token endpoint and revokes only its own
/// tokens; the answer is 200 whatever the token was, so the endpoint is no oracle, and every attempt is audited. The
/// revocation is durable in the shared store before the answer (<see cref="RevocationService"/>).
/// </summary>
internal sealed class RevocationEndpoint(
    ServerEndpoints endpoints,
    ClientAuthenticator authenticator,
    AccessTokenValidator validator,
    RevocationService revocations,
    ServerAudit audit)
{
    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var read = await OAuthForm.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (!read.IsValid)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRevoked, AuditAction.Delete, read.Status, OAuthResponses.InvalidRequest, read.Error, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        var form = read.Form;
        var authentication = await authenticator.AuthenticateAsync(context, form, endpoints.RevocationAudiences, context.RequestAborted).ConfigureAwait(false);
        if (!authentication.Succeeded)
        {
            await audit.RefuseClientAsync(context, AuditEventType.TokenRevoked, AuditAction.Delete, authentication.Failure).ConfigureAwait(false);
            return;
        }

        var caller = authentication.Client;
        if (form["token"] is not { } token)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRevoked, AuditAction.Delete, 400, OAuthResponses.InvalidRequest, "token is required.", SafeguardErrorCodes.RequestMalformed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        if (result.IsValid && result.Token.ClientId == caller.Client.ClientId)
        {
            var claims = result.Token;
            await revocations.RevokeAsync(claims.TokenId!, claims.ClientId!, claims.ExpiresAt!.Value, context.RequestAborted).ConfigureAwait(false);
            var revoked = audit.Create(context, AuditEventType.TokenRevoked, AuditOutcome.Success, caller.Client.ClientId, "revoked by its client (RFC 7009)", 200) with
            {
                Subject = claims.Subject,
                TokenId = claims.TokenId,
                Action = AuditAction.Delete,
                ResourceType = "access_token",
            };
            if (!await audit.RecordOrRefuseAsync(context, revoked).ConfigureAwait(false))
            {
                return;
            }
        }
        else
        {
            // Another client's token, or one that is already expired or revoked: nothing to do, and nothing said.
            var reason = result.IsValid ? "token belongs to another client; not revoked" : $"{result.ErrorCode}; nothing to revoke";
            var ignored = audit.Create(context, AuditEventType.TokenRevoked, AuditOutcome.Denied, caller.Client.ClientId, reason, 200) with
            {
                TokenId = result.TokenId,
                Action = AuditAction.Delete,
                ResourceType = "access_token",
            };
            if (!await audit.RecordOrRefuseAsync(context, ignored).ConfigureAwait(false))
            {
                return;
            }
        }

        context.Response.StatusCode = 200;
        OAuthResponses.NoStore(context.Response);
    }
}
