using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;
using Safeguard.Tokens;

namespace Safeguard.Server.Token;

/// <summary>What a person's sign-in grants a client: the same for a code exchange and every refresh after it.</summary>
internal sealed record UserGrant(
    string Subject, string SessionId, IReadOnlyList<string> Scopes, IReadOnlyList<string> Resources, DateTimeOffset AuthenticatedAt,
    string? Acr, IReadOnlyList<string> Amr, IReadOnlyList<string> Roles, string? Nonce);

/// <summary>
/// Issues a person's tokens and answers the token request: the access token (user, <c>sid</c>, <c>auth_time</c>,
/// <c>acr</c>, <c>amr</c>, roles; DPoP- or certificate-bound when the request was), an ID token with <c>openid</c>, and a
/// new refresh token of the family when the client may refresh. Nothing is released until the issuance is durable in
/// the audit trail; the refresh token is stored before the answer.
/// </summary>
internal sealed class UserTokens(
    AccessTokenIssuer issuer, IdTokenIssuer idTokens, IRefreshTokenStore refreshTokens, ServerAudit audit, ServerMetrics metrics,
    IOptions<AccessTokenOptions> accessTokenOptions, IOptions<Safeguard.Sessions.SessionOptions> sessionOptions, TimeProvider time)
{
    /// <summary>Issues and answers; returns the access token's id, or null when the request was refused (and answered).</summary>
    /// <param name="request">The token request.</param>
    /// <param name="grantType">The grant, for the record.</param>
    /// <param name="grant">What is granted.</param>
    /// <param name="refreshFamily">The refresh-token family to continue or start, or null for none.</param>
    /// <param name="refreshExpiresAt">When a new refresh token expires at the latest (the session's absolute end).</param>
    /// <param name="refreshDpopJkt">The DPoP key a new refresh token is bound to, or null.</param>
    /// <param name="rotated">
    /// For a refresh: the hash of the token presented, rotated (marked used, its session touched, the new token stored)
    /// in one transaction before anything is released; and what to do when another use of it won the race.
    /// </param>
    public async Task<string?> IssueAsync(
        TokenRequest request, string grantType, UserGrant grant, string? refreshFamily, DateTimeOffset refreshExpiresAt, string? refreshDpopJkt,
        (string UsedHash, Func<Task> Lost)? rotated = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(grant);
        var context = request.Context;
        var client = request.Client.Client;
        var certificate = request.Client.CertificateThumbprint;
        var now = time.GetUtcNow();
        var issued = issuer.Issue(new AccessTokenRequest
        {
            Lifetime = LifetimeWithin(now, refreshExpiresAt),
            Subject = grant.Subject,
            ClientId = client.ClientId,
            Audiences = grant.Resources,
            Scopes = grant.Scopes,
            SessionId = grant.SessionId,
            AuthenticationTime = grant.AuthenticatedAt,
            AuthenticationContextClass = grant.Acr,
            AuthenticationMethods = grant.Amr,
            Roles = grant.Roles,
            ConfirmationJwkThumbprint = request.DpopThumbprint,
            ConfirmationCertificateThumbprint = certificate,
        });
        var openId = grant.Scopes.Contains("openid", StringComparer.Ordinal);
        var idToken = issued.Succeeded && openId
            ? idTokens.Issue(new IdTokenRequest
            {
                Subject = grant.Subject,
                ClientId = client.ClientId,
                SessionId = grant.SessionId,
                AuthenticatedAt = grant.AuthenticatedAt,
                Nonce = grant.Nonce,
                Acr = grant.Acr,
                Amr = grant.Amr,
                AccessToken = issued.Token,
            })
            : null;
        if (!issued.Succeeded || (openId && idToken is null))
        {
            await request.RefuseAsync(audit, 503, OAuthResponses.TemporarilyUnavailable, "No token can be issued now.", issued.ErrorCode ?? SafeguardErrorCodes.IssuanceNoSigningKey).ConfigureAwait(false);
            return null;
        }

        (string Value, RefreshToken Record)? refresh = null;
        if (refreshFamily is not null && client.GrantTypes.Contains(GrantTypes.RefreshToken, StringComparer.Ordinal) && refreshExpiresAt > now)
        {
            var (value, hash) = RefreshTokens.New();
            refresh = (value, new RefreshToken
            {
                TokenHash = hash,
                FamilyId = refreshFamily,
                ClientId = client.ClientId,
                Subject = grant.Subject,
                SessionId = grant.SessionId,
                Scopes = grant.Scopes,
                Resources = grant.Resources,
                AuthenticatedAt = grant.AuthenticatedAt,
                Acr = grant.Acr,
                Amr = grant.Amr,
                DpopJkt = refreshDpopJkt,
                CreatedAt = now,
                ExpiresAt = refreshExpiresAt,
            });
        }

        var auditEvent = audit.Create(context, AuditEventType.TokenIssued, AuditOutcome.Success, client.ClientId,
            $"grant={grantType} auth={request.Client.Method}{(refresh is null ? string.Empty : " refresh_family=" + refreshFamily)}", 200) with
        {
            Subject = grant.Subject,
            SessionId = grant.SessionId,
            TokenId = issued.TokenId,
            Acr = grant.Acr,
            Amr = grant.Amr,
            ConfirmationThumbprint = request.DpopThumbprint ?? certificate,
            Action = AuditAction.Create,
            ResourceType = "access_token",
            ResourceId = string.Join(' ', grant.Resources),
        };
        if (!await audit.RecordOrRefuseAsync(context, auditEvent).ConfigureAwait(false))
        {
            return null; // nothing released, and a refresh token presented is not spent: the client may retry
        }

        if (rotated is { } rotation)
        {
            bool won;
            try
            {
                won = await refreshTokens.RotateAsync(rotation.UsedHash, now, grant.SessionId, refresh?.Record, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                audit.RecordNotDone(auditEvent, ex.GetType().Name);
                throw;
            }

            if (!won)
            {
                audit.RecordNotDone(auditEvent, "a concurrent use of the refresh token rotated it first");
                await rotation.Lost().ConfigureAwait(false);
                return null;
            }
        }

        if (rotated is null && refresh is { } newRefresh)
        {
            await refreshTokens.AddAsync(newRefresh.Record, context.RequestAborted).ConfigureAwait(false);
        }

        metrics.TokenIssued(grantType);
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
            if (grant.Scopes.Count > 0)
            {
                writer.WriteString("scope", string.Join(' ', grant.Scopes));
            }

            if (idToken is not null)
            {
                writer.WriteString("id_token", idToken);
            }

            if (refresh is { } r)
            {
                writer.WriteString("refresh_token", r.Value);
            }
        }).ConfigureAwait(false);
        return issued.TokenId;
    }

    /// <summary>
    /// A person's access token never outlives the sign-in behind it: it ends by the session's absolute end and by its idle
    /// deadline (this issuance is the session's latest activity), so no resource server honours a <c>sid</c> that time
    /// has ended. Null (the configured lifetime) when that is shorter anyway.
    /// </summary>
    private TimeSpan? LifetimeWithin(DateTimeOffset now, DateTimeOffset sessionEnd)
    {
        var limit = sessionEnd - now < sessionOptions.Value.IdleTimeout ? sessionEnd - now : sessionOptions.Value.IdleTimeout;
        return limit < accessTokenOptions.Value.Lifetime ? TimeSpan.FromSeconds(Math.Max(1, Math.Floor(limit.TotalSeconds))) : null;
    }
}
