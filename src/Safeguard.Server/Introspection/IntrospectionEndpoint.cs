using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.OAuth;
using Safeguard.Tokens;

namespace Safeguard.Server.Introspection;

/// <summary>
/// <c>POST /introspect</c> (RFC 7662), for resource servers. The caller authenticates and needs resources it may
/// introspect for; the answer is exactly <c>{"active":false}</c> for a token that is unknown, expired, revoked, or
/// whose audience is none of them (a client may always introspect its own tokens). Every introspection is audited
/// before the answer.
/// </summary>
internal sealed class IntrospectionEndpoint(
    ServerEndpoints endpoints,
    AuthenticatedRequestReader requests,
    AccessTokenValidator validator,
    ServerAudit audit)
{
    /// <summary>Handles one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        if (await requests.ReadAsync(context, endpoints.IntrospectionAudiences, AuditEventType.TokenRefused, AuditAction.Read).ConfigureAwait(false) is not { } request)
        {
            return;
        }

        var (form, caller) = request;
        if (caller.Client.IntrospectionResources.Count == 0)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Read, 403, OAuthResponses.UnauthorizedClient, "This client may not introspect tokens.", SafeguardErrorCodes.IntrospectionNotAllowed, caller.Client.ClientId).ConfigureAwait(false);
            return;
        }

        if (form["token"] is not { } token)
        {
            await audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Read, 400, OAuthResponses.InvalidRequest, "token is required.", SafeguardErrorCodes.RequestMalformed, caller.Client.ClientId).ConfigureAwait(false);
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
}
