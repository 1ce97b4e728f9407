using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Server.Audit;
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
    AuthenticatedRequestReader requests,
    AccessTokenValidator validator,
    RevocationService revocations,
    IRefreshTokenStore refreshTokens,
    ServerAudit audit,
    TimeProvider time)
{
    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        if (await requests.ReadAsync(context, endpoints.RevocationAudiences, AuditEventType.TokenRevoked, AuditAction.Delete).ConfigureAwait(false) is not { } request)
        {
            return;
        }

        var (form, caller) = request;
        if (form["token"] is not { } token)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRevoked, AuditAction.Delete, 400, OAuthResponses.InvalidRequest, "token is required.", SafeguardErrorCodes.RequestMalformed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        if (!token.Contains('.', StringComparison.Ordinal))
        {
            await RevokeRefreshTokenAsync(context, caller.Client.ClientId, token).ConfigureAwait(false);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        if (result.IsValid && result.Token.ClientId == caller.Client.ClientId)
        {
            // On the record first: if the trail cannot take the event, nothing is revoked and the answer is 503 (the
            // client retries; revoking is idempotent). If the revocation then cannot be stored, a second event says so.
            var claims = result.Token;
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

            try
            {
                await revocations.RevokeAsync(claims.TokenId!, claims.ClientId!, claims.ExpiresAt!.Value, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                audit.RecordNotDone(revoked, ex.GetType().Name);
                throw;
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

    /// <summary>
    /// A refresh token (not a JWT): revoking it revokes its whole family, the grant it came from (RFC 7009 section 2.1).
    /// Another client's token, or an unknown one, is answered the same and recorded as not revoked.
    /// </summary>
    private async Task RevokeRefreshTokenAsync(HttpContext context, string clientId, string token)
    {
        var found = token.Length <= 256 ? await refreshTokens.FindAsync(RefreshTokens.Hash(token), context.RequestAborted).ConfigureAwait(false) : null;
        var own = found is not null && found.ClientId == clientId;
        var record = audit.Create(context, AuditEventType.TokenRevoked, own ? AuditOutcome.Success : AuditOutcome.Denied, clientId,
            own ? "refresh token revoked by its client with its family (RFC 7009)" : "unknown refresh token or another client's; not revoked", 200) with
        {
            Subject = own ? found!.Subject : null,
            SessionId = own ? found!.SessionId : null,
            Action = AuditAction.Delete,
            ResourceType = "refresh_token",
            ResourceId = own ? found!.FamilyId : null,
        };
        if (!await audit.RecordOrRefuseAsync(context, record).ConfigureAwait(false))
        {
            return;
        }

        if (own)
        {
            await refreshTokens.RevokeFamilyAsync(found!.SessionId, found.FamilyId, time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        }

        context.Response.StatusCode = 200;
        OAuthResponses.NoStore(context.Response);
    }
}
