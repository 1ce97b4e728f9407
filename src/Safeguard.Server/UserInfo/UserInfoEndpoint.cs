using System.Net.Http.Headers;
using Safeguard.Dpop;
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
/// request (RFC 9449); sent as Bearer it is refused. Errors follow RFC 6750 with a generic description.
/// </summary>
internal sealed class UserInfoEndpoint(
    AccessTokenValidator validator, DpopProofValidator dpop, ISessionStore sessions, SessionManager sessionLimits, IUserStore users, ServerEndpoints endpoints, TimeProvider time)
{
    public const string Path = "/userinfo";

    public async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        if (context.Request.Headers.Authorization is not [{ } value] || !AuthenticationHeaderValue.TryParse(value, out var header)
            || header.Parameter is not { Length: > 0 } token || header.Scheme is not ("Bearer" or "DPoP"))
        {
            Challenge(context, 401, null);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        if (!result.IsValid || result.Token.Subject is not { } subject || !UserSubjects.IsWellFormed(subject) || result.Token.SessionId is not { } sid)
        {
            Challenge(context, 401, "invalid_token");
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
                Challenge(context, 401, "invalid_token");
                return;
            }
        }
        else if (header.Scheme != "Bearer")
        {
            Challenge(context, 401, "invalid_token");
            return;
        }

        if (!claims.Scopes.Contains("openid", StringComparer.Ordinal))
        {
            Challenge(context, 403, "insufficient_scope");
            return;
        }

        var session = await sessions.FindAsync(sid, cancellationToken).ConfigureAwait(false);
        var user = await users.FindBySubjectAsync(subject, cancellationToken).ConfigureAwait(false);
        if (session is not { EndedAt: null } || session.Subject != subject || sessionLimits.LimitReached(session, time.GetUtcNow()) is not null || user is not { Status: UserStatus.Active })
        {
            Challenge(context, 401, "invalid_token");
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

    private static void Challenge(HttpContext context, int status, string? error)
    {
        context.Response.StatusCode = status;
        OAuthResponses.NoStore(context.Response);
        context.Response.Headers.WWWAuthenticate = error is null
            ? "Bearer realm=\"safeguard\""
            : $"Bearer realm=\"safeguard\", error=\"{error}\"";
    }
}
