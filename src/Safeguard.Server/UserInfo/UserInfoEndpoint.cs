using System.Net.Http.Headers;
using Safeguard.Audit;
using Safeguard.Dpop;
using Safeguard.Server.Audit;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;
using Safeguard.Tokens;
using Safeguard.Users;

namespace Safeguard.Server.UserInfo;

/// <summary>
/// <c>/userinfo</c> (OIDC Core section 5.3) for an access token of this server with <c>openid</c>: <c>sub</c>, with
/// <c>preferred_username</c> for <c>profile</c> and <c>email</c> for <c>email</c>; nothing else (no PHI). The token is
/// checked like any token this server issued (signature, issuer, expiry, revocation) and also its session: one that
/// has ended answers <c>invalid_token</c>. A DPoP-bound token needs <c>Authorization: DPoP</c> and a proof for this
/// request (RFC 9449); sent as Bearer it is refused. Errors follow RFC 6750 with a generic description; every request
/// is a <c>userinfo.read</c> audit event with the precise reason, and the claims are released only once it is durable.
/// </summary>
internal sealed class UserInfoEndpoint(
    AccessTokenValidator validator, DpopProofValidator dpop, ISessionStore sessions, SessionManager sessionLimits, IUserStore users, ServerEndpoints endpoints, ServerAudit audit, RefusalAggregator refusals, TimeProvider time)
{
    public const string Path = "/userinfo";

    public async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        if (context.Request.Headers.Authorization is not [{ } value] || !AuthenticationHeaderValue.TryParse(value, out var header)
            || header.Parameter is not { Length: > 0 } token || header.Scheme is not ("Bearer" or "DPoP"))
        {
            await RefuseAsync(context, 401, null, null, "no access token (Authorization: Bearer or DPoP)", SafeguardErrorCodes.TokenMissing).ConfigureAwait(false);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        if (!result.IsValid || result.Token.Subject is not { } subject || !UserSubjects.IsWellFormed(subject) || result.Token.SessionId is not { } sid)
        {
            await RefuseAsync(context, 401, "invalid_token", result.IsValid ? result.Token : null,
                result.IsValid ? "not a person's token (no user subject or sid)" : $"{result.ErrorCode} token refused", result.ErrorCode ?? SafeguardErrorCodes.TokenValidationFailed).ConfigureAwait(false);
            return;
        }

        var claims = result.Token;
        if (claims.ConfirmationJwkThumbprint is { } jkt)
        {
            var proofs = context.Request.Headers["DPoP"];
            var proof = header.Scheme == "DPoP" && proofs.Count == 1
                ? await dpop.ValidateAsync(proofs[0], context.Request.Method, new Uri(endpoints.Issuer + Path), token, cancellationToken).ConfigureAwait(false)
                : default;
            if (!proof.Succeeded || proof.JwkThumbprint != jkt)
            {
                await RefuseAsync(context, 401, "invalid_token", claims, "a DPoP-bound token without a valid proof of its key").ConfigureAwait(false);
                return;
            }
        }
        else if (header.Scheme != "Bearer")
        {
            await RefuseAsync(context, 401, "invalid_token", claims, "DPoP scheme for a token that is not DPoP-bound").ConfigureAwait(false);
            return;
        }

        if (!claims.Scopes.Contains("openid", StringComparer.Ordinal))
        {
            await RefuseAsync(context, 403, "insufficient_scope", claims, "the token has no openid scope").ConfigureAwait(false);
            return;
        }

        var session = await sessions.FindAsync(sid, cancellationToken).ConfigureAwait(false);
        var user = await users.FindBySubjectAsync(subject, cancellationToken).ConfigureAwait(false);
        if (session is not { EndedAt: null } || session.Subject != subject || sessionLimits.LimitReached(session, time.GetUtcNow()) is not null || user is not { Status: UserStatus.Active })
        {
            await RefuseAsync(context, 401, "invalid_token", claims, user is not { Status: UserStatus.Active } ? "the user is not active" : "the token's session has ended").ConfigureAwait(false);
            return;
        }

        var released = string.Join(' ', new[] { "sub", claims.Scopes.Contains("profile", StringComparer.Ordinal) ? "preferred_username" : null, claims.Scopes.Contains("email", StringComparer.Ordinal) && user.Email is not null ? "email" : null }.OfType<string>());
        if (!await audit.RecordOrRefuseAsync(context, Event(context, AuditOutcome.Success, 200, claims, $"claims released: {released}")).ConfigureAwait(false))
        {
            return;
        }

        context.Response.StatusCode = 200;
        OAuthResponses.NoStore(context.Response);
        context.Response.ContentType = "application/json";
        await OAuthResponses.WriteJsonAsync(context.Response, writer =>
        {
            writer.WriteString("sub", subject);
            if (claims.Scopes.Contains("profile", StringComparer.Ordinal))
            {
                writer.WriteString("preferred_username", user.Username);
            }

            if (claims.Scopes.Contains("email", StringComparer.Ordinal) && user.Email is not null)
            {
                writer.WriteString("email", user.Email);
            }
        }).ConfigureAwait(false);
    }

    private async Task RefuseAsync(HttpContext context, int status, string? error, ValidatedAccessToken? claims, string reason, string? code = null)
    {
        // The precise reason goes only to the trail; the answer stays generic. A refusal that cannot be recorded is still
        // refused. Without a verified token there is no one to name: such refusals are aggregated per source and code
        // (the first recorded as is), so a flood of them cannot fill the trail.
        var refusal = Event(context, AuditOutcome.Denied, status, claims, reason);
        if (claims is null)
        {
            await refusals.RecordAsync(refusal, code ?? SafeguardErrorCodes.TokenValidationFailed, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            await audit.RecordAsync(refusal, context.RequestAborted).ConfigureAwait(false);
        }

        Challenge(context, status, error);
    }

    private AuditEvent Event(HttpContext context, AuditOutcome outcome, int status, ValidatedAccessToken? claims, string reason) =>
        audit.Create(context, AuditEventType.UserInfoRead, outcome, claims?.ClientId, reason, status) with
        {
            Subject = claims?.Subject,
            SessionId = claims?.SessionId,
            TokenId = claims?.TokenId,
            Action = AuditAction.Read,
            ResourceType = "user",
            ResourceId = claims?.Subject,
        };

    private static void Challenge(HttpContext context, int status, string? error)
    {
        context.Response.StatusCode = status;
        OAuthResponses.NoStore(context.Response);
        context.Response.Headers.WWWAuthenticate = error is null
            ? "Bearer realm=\"safeguard\""
            : $"Bearer realm=\"safeguard\", error=\"{error}\"";
    }
}
