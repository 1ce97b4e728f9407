using Safeguard.Audit;
using Safeguard.Server.Protocol;
using Safeguard.Server.Services;
using Safeguard.Tokens;

namespace Safeguard.Server.Endpoints;

/// <summary>
/// <c>POST /revoke</c> (RFC 7009) and <c>POST /introspect</c> (RFC 7662). Both authenticate the caller like the
/// token endpoint. A client revokes only its own tokens; the answer is 200 whatever the token was, so the endpoint
/// is no oracle, and every attempt is audited. Introspection is for resource servers: the caller needs resources
/// it may introspect for, and the answer is exactly <c>{"active":false}</c> for a token that is unknown, expired,
/// revoked, or whose audience is none of them (a client may always introspect its own tokens).
/// </summary>
internal sealed class RevocationEndpoints(
    ServerEndpoints endpoints,
    ClientAuthenticator authenticator,
    AccessTokenValidator validator,
    RevocationService revocations,
    ServerAudit audit)
{
    public async Task RevokeAsync(HttpContext context)
    {
        var (form, formError, formStatus) = await OAuthForm.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (form is null)
        {
            await RefuseAsync(context, AuditEventType.TokenRevoked, formStatus, OAuthResponses.InvalidRequest, formError!, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        var (caller, failure) = await authenticator.AuthenticateAsync(context, form, endpoints.RevocationAudiences, context.RequestAborted).ConfigureAwait(false);
        if (caller is null)
        {
            await RefuseClientAsync(context, AuditEventType.TokenRevoked, failure!).ConfigureAwait(false);
            return;
        }

        if (form["token"] is not { } token)
        {
            await RefuseAsync(context, AuditEventType.TokenRevoked, 400, OAuthResponses.InvalidRequest, "token is required.", SafeguardErrorCodes.RequestMalformed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        if (result.IsValid && result.Token!.ClientId == caller.Client.ClientId)
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

    public async Task IntrospectAsync(HttpContext context)
    {
        var (form, formError, formStatus) = await OAuthForm.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (form is null)
        {
            await RefuseAsync(context, AuditEventType.TokenRefused, formStatus, OAuthResponses.InvalidRequest, formError!, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return;
        }

        var (caller, failure) = await authenticator.AuthenticateAsync(context, form, endpoints.IntrospectionAudiences, context.RequestAborted).ConfigureAwait(false);
        if (caller is null)
        {
            await RefuseClientAsync(context, AuditEventType.TokenRefused, failure!).ConfigureAwait(false);
            return;
        }

        if (caller.Client.IntrospectionResources.Count == 0)
        {
            await RefuseAsync(context, AuditEventType.TokenRefused, 403, OAuthResponses.UnauthorizedClient, "This client may not introspect tokens.", SafeguardErrorCodes.IntrospectionNotAllowed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        if (form["token"] is not { } token)
        {
            await RefuseAsync(context, AuditEventType.TokenRefused, 400, OAuthResponses.InvalidRequest, "token is required.", SafeguardErrorCodes.RequestMalformed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        var result = validator.ValidateIssuedToken(token);
        var claims = result.Token;
        var active = result.IsValid && claims is not null
            && (claims.ClientId == caller.Client.ClientId || claims.Audiences.Any(a => caller.Client.IntrospectionResources.Contains(a, StringComparer.Ordinal)));

        // Every introspection is recorded (who asked about which token id, and what they were told) before the answer.
        var reason = active ? "active" : result.IsValid ? "inactive: audience not among the caller's resources" : $"inactive: {result.ErrorCode}";
        var introspected = audit.Create(context, AuditEventType.TokenIntrospected, AuditOutcome.Success, caller.Client.ClientId, reason, 200) with
        {
            Subject = active ? claims!.Subject : null,
            TokenId = result.TokenId,
            Action = AuditAction.Read,
            ResourceType = "access_token",
        };
        if (!await audit.RecordOrRefuseAsync(context, introspected).ConfigureAwait(false))
        {
            return;
        }

        var response = context.Response;
        response.StatusCode = 200;
        OAuthResponses.NoStore(response);
        response.ContentType = "application/json";
        await OAuthResponses.WriteJsonAsync(response, writer =>
        {
            writer.WriteBoolean("active", active);
            if (!active)
            {
                return;
            }

            writer.WriteString("iss", claims!.Issuer);
            writer.WriteString("sub", claims.Subject);
            writer.WriteString("client_id", claims.ClientId);
            writer.WriteStartArray("aud");
            foreach (var audience in claims.Audiences)
            {
                writer.WriteStringValue(audience);
            }

            writer.WriteEndArray();
            if (claims.Scopes.Count > 0)
            {
                writer.WriteString("scope", string.Join(' ', claims.Scopes));
            }

            writer.WriteString("jti", claims.TokenId);
            writer.WriteNumber("exp", claims.ExpiresAt!.Value.ToUnixTimeSeconds());
            writer.WriteNumber("iat", claims.IssuedAt!.Value.ToUnixTimeSeconds());
            writer.WriteString("token_type", claims.ConfirmationJwkThumbprint is null ? "Bearer" : "DPoP");
            if (claims.ConfirmationJwkThumbprint is not null || claims.ConfirmationCertificateThumbprint is not null)
            {
                writer.WriteStartObject("cnf");
                if (claims.ConfirmationJwkThumbprint is { } jkt)
                {
                    writer.WriteString("jkt", jkt);
                }

                if (claims.ConfirmationCertificateThumbprint is { } x5t)
                {
                    writer.WriteString("x5t#S256", x5t);
                }

                writer.WriteEndObject();
            }
        }).ConfigureAwait(false);
    }

    private Task RefuseClientAsync(HttpContext context, AuditEventType type, ClientAuthenticationFailure failure) =>
        audit.RefuseClientAsync(context, type, ActionOf(type), failure);

    private Task RefuseAsync(HttpContext context, AuditEventType type, int status, string error, string description, string code, string? clientId) =>
        audit.RefuseAsync(context, type, ActionOf(type), status, error, description, code, clientId);

    private static AuditAction ActionOf(AuditEventType type) => type == AuditEventType.TokenRevoked ? AuditAction.Delete : AuditAction.Read;
}
