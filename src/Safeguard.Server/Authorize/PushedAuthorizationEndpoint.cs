using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Authorize;

/// <summary>
/// <c>POST /par</c> (RFC 9126): the client authenticates as at the token endpoint and sends the authorization request
/// in the body, checked by the same rules as <c>/authorize</c>. The answer is a one-time <c>request_uri</c> that
/// lives 90 seconds; <c>/authorize</c> then takes only it (and the client id), so the request's parameters never
/// pass through the browser and cannot be altered there. Clients registered with <c>--require-par</c> must use it.
/// </summary>
internal sealed class PushedAuthorizationEndpoint(
    ServerEndpoints endpoints, AuthenticatedRequestReader requests, AuthorizeEndpoint authorize, IAuthorizationStore store, ServerAudit audit, TimeProvider time)
{
    /// <summary>How long a pushed request waits for its use at <c>/authorize</c>.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(90);

    public async Task HandleAsync(HttpContext context)
    {
        if (await requests.ReadAsync(context, [endpoints.Issuer, endpoints.PushedAuthorizationEndpoint], AuditEventType.TokenRefused, AuditAction.Create).ConfigureAwait(false) is not { } read)
        {
            return;
        }

        var (form, caller) = read;
        var client = caller.Client;
        if (form["client_id"] is { } named && named != client.ClientId)
        {
            await RefuseAsync(context, client.ClientId, OAuthResponses.InvalidRequest, "client_id is not the authenticated client.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        if (!client.GrantTypes.Contains(GrantTypes.AuthorizationCode, StringComparer.Ordinal))
        {
            await RefuseAsync(context, client.ClientId, OAuthResponses.UnauthorizedClient, "This client is not registered for sign-in (authorization_code).", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        if (!client.RedirectUris.Contains(form["redirect_uri"] ?? string.Empty, StringComparer.Ordinal))
        {
            await RefuseAsync(context, client.ClientId, OAuthResponses.InvalidRequest, "redirect_uri is not one of the client's.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        if (form["state"] is { Length: > 1024 })
        {
            await RefuseAsync(context, client.ClientId, OAuthResponses.InvalidRequest, "state is too long.", SafeguardErrorCodes.RequestMalformed).ConfigureAwait(false);
            return;
        }

        if (authorize.Check(name => form[name], form.Resources, client, form["state"], out var request) is { } problem)
        {
            await RefuseAsync(context, client.ClientId, problem.Error, problem.Description, problem.Code).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        var pushed = request! with { Pushed = true, ExpiresAt = now + Lifetime };
        await store.AddRequestAsync(pushed, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status201Created;
        OAuthResponses.NoStore(context.Response);
        await OAuthResponses.WriteJsonAsync(context.Response, writer =>
        {
            writer.WriteString("request_uri", AuthorizeEndpoint.RequestUriPrefix + pushed.Id);
            writer.WriteNumber("expires_in", (int)Lifetime.TotalSeconds);
        }).ConfigureAwait(false);
    }

    private Task RefuseAsync(HttpContext context, string clientId, string error, string description, string code) =>
        audit.RefuseAsync(context, AuditEventType.TokenRefused, AuditAction.Create, 400, error, description, code, clientId);
}
