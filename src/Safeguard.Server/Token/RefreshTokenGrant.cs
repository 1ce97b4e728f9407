using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.Token;

/// <summary>
/// The refresh-token grant (RFC 6749 section 6, OAuth 2.1 section 4.3.1): every use rotates the token; a token used a
/// second time revokes its whole family and is recorded as <c>refresh.reuse_detected</c> (RFC 9700 section 4.14.2). The
/// token is bound to its session: past the session's idle timeout or absolute lifetime the refresh fails with
/// <c>invalid_grant</c> and the session ends (automatic logoff); a refresh is activity for the idle clock. A token
/// bound to a DPoP key needs a proof of that key. Scopes may be narrowed, never widened.
/// </summary>
internal sealed class RefreshTokenGrant(
    IRefreshTokenStore refreshTokens, SessionManager sessions, UserTokens tokens, ServerAudit audit, TimeProvider time) : ITokenGrantHandler
{
    public string GrantType => GrantTypes.RefreshToken;

    public async Task HandleAsync(TokenRequest request)
    {
        var context = request.Context;
        var cancellationToken = context.RequestAborted;
        var client = request.Client.Client;
        if (request.Form["refresh_token"] is not { Length: > 0 and <= 256 } presented)
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidRequest, "refresh_token is required.", SafeguardErrorCodes.RequestMalformed).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        var hash = RefreshTokens.Hash(presented);
        // The token, its session and its user in one read.
        var found = await refreshTokens.FindForUseAsync(hash, cancellationToken).ConfigureAwait(false);
        var token = found?.Token;
        if (token is null || token.ClientId != client.ClientId || token.RevokedAt is not null)
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The refresh token is invalid.", SafeguardErrorCodes.RefreshTokenInvalid).ConfigureAwait(false);
            return;
        }

        if (token.UsedAt is not null)
        {
            await ReusedAsync(request, token, now).ConfigureAwait(false);
            return;
        }

        if (token.DpopJkt is not null && token.DpopJkt != request.DpopThumbprint)
        {
            await refreshTokens.RevokeFamilyAsync(token.SessionId, token.FamilyId, now, cancellationToken).ConfigureAwait(false);
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "This refresh token needs a DPoP proof of its key.", SafeguardErrorCodes.RefreshTokenDpopMismatch).ConfigureAwait(false);
            return;
        }

        var session = found!.Session;
        var user = found.User is { } owner && owner.Subject == token.Subject ? owner : null;
        // The token's own end is the session's absolute end; past it (or past the idle timeout) the session ends here.
        var limit = session is null ? "missing" : session.EndedAt is not null ? "ended" : sessions.LimitReached(session, now) ?? (now >= token.ExpiresAt ? "absolute" : null);
        if (limit is not null || user is not { Status: UserStatus.Active })
        {
            if (session is not null && limit is "idle" or "absolute" && await sessions.EndAsync(session.Id, limit, cancellationToken).ConfigureAwait(false))
            {
                await audit.RecordAsync(SessionEvents.TimedOut(audit, context, session with { EndedAt = now, EndReason = limit }), cancellationToken).ConfigureAwait(false);
            }

            await refreshTokens.RevokeFamilyAsync(token.SessionId, token.FamilyId, now, cancellationToken).ConfigureAwait(false);
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The sign-in behind this refresh token has ended; sign in again.", SafeguardErrorCodes.SessionNotActive).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<string> scopes = token.Scopes;
        if (request.Form["scope"] is { } narrowed)
        {
            var asked = narrowed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (asked.Length == 0 || asked.Any(s => !token.Scopes.Contains(s, StringComparer.Ordinal)))
            {
                await request.RefuseAsync(audit, 400, OAuthResponses.InvalidScope, "A refresh may narrow the scopes, never widen them.", SafeguardErrorCodes.ScopeNotAllowed).ConfigureAwait(false);
                return;
            }

            scopes = [.. asked.Distinct(StringComparer.Ordinal)];
        }

        // The rotation (old token used, session touched, new token stored) is one transaction; a concurrent use of the
        // same token that commits first makes this one a reuse.
        var grant = new UserGrant(token.Subject, token.SessionId, scopes, token.Resources, token.AuthenticatedAt, token.Acr, token.Amr, user.Roles, null);
        await tokens.IssueAsync(request, GrantType, grant, token.FamilyId, token.ExpiresAt, token.DpopJkt, (hash, () => ReusedAsync(request, token, now))).ConfigureAwait(false);
    }

    /// <summary>A used token presented again: its whole family is revoked, and the reuse recorded (RFC 9700 section 4.14.2).</summary>
    private async Task ReusedAsync(TokenRequest request, RefreshToken token, DateTimeOffset now)
    {
        var context = request.Context;
        var clientId = request.Client.Client.ClientId;
        var revoked = await refreshTokens.RevokeFamilyAsync(token.SessionId, token.FamilyId, now, context.RequestAborted).ConfigureAwait(false);
        var reuse = audit.Create(context, AuditEventType.RefreshReuseDetected, AuditOutcome.Denied, clientId,
            $"{SafeguardErrorCodes.RefreshTokenReused} a rotated refresh token was presented again: its family ({revoked} token(s)) is revoked", 400) with
        {
            Subject = token.Subject,
            SessionId = token.SessionId,
            Action = AuditAction.Delete,
            ResourceType = "refresh_token",
            ResourceId = token.FamilyId,
        };
        await audit.RecordAsync(reuse, context.RequestAborted).ConfigureAwait(false);
        await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The refresh token is invalid.", SafeguardErrorCodes.RefreshTokenReused).ConfigureAwait(false);
    }
}
