using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.OAuth;
using Safeguard.Server.Revocation;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.Token;

/// <summary>
/// The authorization-code grant (RFC 6749 section 4.1.3, OAuth 2.1): the code is redeemed once (one conditional
/// UPDATE, so once across nodes); a second presentation revokes every token issued for it (RFC 9700 section 4.5)
/// and is audited. The code must be the client's, within its 60 seconds, for the same redirect URI, and the PKCE
/// verifier must hash to its S256 challenge; the session behind it must still be live and its user active. The
/// access token carries the user, the session (<c>sid</c>), <c>auth_time</c>, <c>acr</c>, <c>amr</c> and roles; with
/// <c>openid</c> an ID token comes too. Tokens are released only once their issuance is durable.
/// </summary>
internal sealed class AuthorizationCodeGrant(
    IAuthorizationStore codes, SessionManager sessions, ISessionStore sessionStore, IUserStore users, UserTokens tokens,
    RevocationService revocation, ServerAudit audit, TimeProvider time) : ITokenGrantHandler
{
    public string GrantType => GrantTypes.AuthorizationCode;

    public async Task HandleAsync(TokenRequest request)
    {
        var context = request.Context;
        var cancellationToken = context.RequestAborted;
        var client = request.Client.Client;
        var form = request.Form;
        var presented = form["code"];
        if (presented is not { Length: > 0 and <= 256 })
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidRequest, "code is required.", SafeguardErrorCodes.RequestMalformed).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        var codeHash = AuthorizationResponder.HashCode(presented);
        var redeemed = await codes.RedeemCodeAsync(codeHash, now, cancellationToken).ConfigureAwait(false);
        if (redeemed is not { } found || found.Code.ClientId != client.ClientId)
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The code is invalid.", SafeguardErrorCodes.AuthorizationCodeInvalid).ConfigureAwait(false);
            return;
        }

        var code = found.Code;
        if (!found.FirstUse)
        {
            await RevokeIssuedAsync(request, code, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (now >= code.ExpiresAt || form["redirect_uri"] != code.RedirectUri)
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The code is invalid.", SafeguardErrorCodes.AuthorizationCodeInvalid).ConfigureAwait(false);
            return;
        }

        if (!Pkce.Matches(form["code_verifier"], code.CodeChallenge))
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The code verifier does not match.", SafeguardErrorCodes.PkceVerifierInvalid).ConfigureAwait(false);
            return;
        }

        var session = await sessionStore.FindAsync(code.SessionId, cancellationToken).ConfigureAwait(false);
        var user = await users.FindBySubjectAsync(code.Subject, cancellationToken).ConfigureAwait(false);
        var sessionLive = session is { EndedAt: null } && sessions.LimitReached(session, now) is null;
        if (!sessionLive || user is not { Status: UserStatus.Active })
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The sign-in behind this code is no longer valid.", SafeguardErrorCodes.SessionNotActive).ConfigureAwait(false);
            return;
        }

        var grant = new UserGrant(code.Subject, code.SessionId, code.Scopes, code.Resources, code.AuthenticatedAt, code.Acr, code.Amr, user.Roles, code.Nonce);
        var tokenId = await tokens.IssueAsync(request, GrantType, grant, RefreshTokens.NewFamily(), session!.ExpiresAt, request.DpopThumbprint).ConfigureAwait(false);
        if (tokenId is not null)
        {
            await codes.RecordIssuedTokenAsync(codeHash, tokenId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A replayed code (RFC 9700 section 4.5): every access token issued for it is revoked, then the request is refused.</summary>
    private async Task RevokeIssuedAsync(TokenRequest request, AuthorizationCode code, CancellationToken cancellationToken)
    {
        var expiresAt = time.GetUtcNow() + TimeSpan.FromMinutes(15);
        foreach (var tokenId in code.IssuedTokenIds)
        {
            await revocation.RevokeAsync(tokenId, code.ClientId, expiresAt, cancellationToken).ConfigureAwait(false);
        }

        var revoked = audit.Create(request.Context, AuditEventType.TokenRevoked, AuditOutcome.Success, code.ClientId,
            $"{SafeguardErrorCodes.AuthorizationCodeReplayed} authorization code presented again: {code.IssuedTokenIds.Count} token(s) issued for it revoked", 400) with
        {
            Subject = code.Subject,
            SessionId = code.SessionId,
            TokenId = code.IssuedTokenIds.Count > 0 ? code.IssuedTokenIds[0] : null,
            Action = AuditAction.Delete,
            ResourceType = "access_token",
        };
        await audit.RecordAsync(revoked, cancellationToken).ConfigureAwait(false);
        await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The code is invalid.", SafeguardErrorCodes.AuthorizationCodeReplayed).ConfigureAwait(false);
    }
}
