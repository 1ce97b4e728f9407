using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;
using Safeguard.Server.Revocation;
using Safeguard.Sessions;
using Safeguard.Tokens;
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
    IAuthorizationStore codes, SessionManager sessions, ISessionStore sessionStore, IUserStore users, AccessTokenIssuer issuer, IdTokenIssuer idTokens,
    RevocationService revocation, ServerAudit audit, ServerMetrics metrics, TimeProvider time) : ITokenGrantHandler
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
        var sessionLive = session is { EndedAt: null } && now < session.ExpiresAt && now - session.LastSeenAt < sessions.Options.IdleTimeout;
        if (!sessionLive || user is not { Status: UserStatus.Active })
        {
            await request.RefuseAsync(audit, 400, OAuthResponses.InvalidGrant, "The sign-in behind this code is no longer valid.", SafeguardErrorCodes.SessionNotActive).ConfigureAwait(false);
            return;
        }

        var scopes = code.Scopes;
        var certificate = request.Client.CertificateThumbprint;
        var issued = issuer.Issue(new AccessTokenRequest
        {
            Subject = code.Subject,
            ClientId = client.ClientId,
            Audiences = code.Resources,
            Scopes = scopes,
            SessionId = code.SessionId,
            AuthenticationTime = code.AuthenticatedAt,
            AuthenticationContextClass = code.Acr,
            AuthenticationMethods = code.Amr,
            Roles = user.Roles,
            ConfirmationJwkThumbprint = request.DpopThumbprint,
            ConfirmationCertificateThumbprint = certificate,
        });
        var idToken = issued.Succeeded && scopes.Contains("openid", StringComparer.Ordinal)
            ? idTokens.Issue(new IdTokenRequest
            {
                Subject = code.Subject,
                ClientId = client.ClientId,
                SessionId = code.SessionId,
                AuthenticatedAt = code.AuthenticatedAt,
                Nonce = code.Nonce,
                Acr = code.Acr,
                Amr = code.Amr,
                AccessToken = issued.Token,
            })
            : null;
        if (!issued.Succeeded || (scopes.Contains("openid", StringComparer.Ordinal) && idToken is null))
        {
            await request.RefuseAsync(audit, 503, OAuthResponses.TemporarilyUnavailable, "No token can be issued now.", issued.ErrorCode ?? SafeguardErrorCodes.IssuanceNoSigningKey).ConfigureAwait(false);
            return;
        }

        var auditEvent = audit.Create(context, AuditEventType.TokenIssued, AuditOutcome.Success, client.ClientId, $"grant={GrantType} auth={request.Client.Method}", 200) with
        {
            Subject = code.Subject,
            SessionId = code.SessionId,
            TokenId = issued.TokenId,
            Acr = code.Acr,
            Amr = code.Amr,
            ConfirmationThumbprint = request.DpopThumbprint ?? certificate,
            Action = AuditAction.Create,
            ResourceType = "access_token",
            ResourceId = string.Join(' ', code.Resources),
        };
        if (!await audit.RecordOrRefuseAsync(context, auditEvent).ConfigureAwait(false))
        {
            return;
        }

        await codes.RecordIssuedTokenAsync(codeHash, issued.TokenId!, cancellationToken).ConfigureAwait(false);
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

            if (idToken is not null)
            {
                writer.WriteString("id_token", idToken);
            }
        }).ConfigureAwait(false);
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
