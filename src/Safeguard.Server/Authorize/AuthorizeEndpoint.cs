using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;

namespace Safeguard.Server.Authorize;

/// <summary>
/// <c>GET /authorize</c> (RFC 6749 section 4.1.1, OAuth 2.1, RFC 9700, OIDC Core section 3.1.2): <c>response_type=code</c>
/// only, PKCE S256 required, the redirect URI matched exactly against the client's. A request that names no valid
/// client or redirect URI gets an error page and is never redirected; any other problem goes back to the client
/// with <c>error</c>, <c>state</c> and <c>iss</c>. A valid request is kept server-side and the browser goes to sign in,
/// or, with a live session that satisfies <c>prompt</c> and <c>max_age</c>, straight back with a code.
/// </summary>
internal sealed class AuthorizeEndpoint(
    ClientRegistry clients, IAuthorizationStore store, SessionManager sessions, AuthorizationResponder responder, ServerAudit audit, TimeProvider time)
{
    public const string Path = "/authorize";

    private const int MaxStateLength = 1024;
    private const int MaxNonceLength = 512;
    private static readonly TimeSpan RequestLifetime = TimeSpan.FromMinutes(10);

    public async Task HandleAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (query.Any(p => p.Value.Count > 1) && !OnlyResourceRepeats(query))
        {
            await RefuseAsync(context, null, "A parameter appears more than once.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        var clientId = query["client_id"].ToString();
        var client = ClientIds.IsWellFormed(clientId) ? clients.Find(clientId) : null;
        if (client is null || !client.Enabled || !client.GrantTypes.Contains(GrantTypes.AuthorizationCode, StringComparer.Ordinal))
        {
            await RefuseAsync(context, null, "The application that sent you here is not registered for sign-in. Contact the application's administrator.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        var redirectUri = query["redirect_uri"].ToString();
        if (!client.RedirectUris.Contains(redirectUri, StringComparer.Ordinal))
        {
            await RefuseAsync(context, client.ClientId, "The application sent you here with a return address it has not registered. Contact the application's administrator.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        // From here the redirect URI is the client's own: errors go back to it.
        var state = query["state"].ToString() is { Length: > 0 } s ? s : null;
        var problem = Check(query, client, state, out var request);
        if (problem is { } refusal)
        {
            await RedirectErrorAsync(context, client.ClientId, redirectUri, state, refusal.Error, refusal.Description, refusal.Code).ConfigureAwait(false);
            return;
        }

        var check = await sessions.CheckAsync(context.Request.Cookies[SignInCookies.Session], touch: true, context.RequestAborted).ConfigureAwait(false);
        if (check.TimedOut is { } ended)
        {
            await audit.RecordAsync(SessionEvents.TimedOut(audit, context, ended), context.RequestAborted).ConfigureAwait(false);
        }

        await store.AddRequestAsync(request!, context.RequestAborted).ConfigureAwait(false);
        var session = check.Session;
        var now = time.GetUtcNow();
        var fresh = session is not null && !request!.ForceLogin && (request.MaxAge is not { } maxAge || now - session.AuthenticatedAt <= TimeSpan.FromSeconds(maxAge))
            && (request.RequiredAcr != AuthenticationContext.Aal2 || session.Acr == AuthenticationContext.Aal2);
        if (fresh)
        {
            await responder.CompleteAsync(context, request!, session!).ConfigureAwait(false);
            return;
        }

        if (query["prompt"].ToString().Split(' ').Contains("none", StringComparer.Ordinal))
        {
            await store.RemoveRequestAsync(request!.Id, context.RequestAborted).ConfigureAwait(false);
            await RedirectErrorAsync(context, client.ClientId, redirectUri, state, "login_required", "The user must sign in.", SafeguardErrorCodes.LoginRequired).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = "/signin?request=" + Uri.EscapeDataString(request!.Id);
        OAuthResponses.NoStore(context.Response);
    }

    private (string Error, string Description, string Code)? Check(IQueryCollection query, Client client, string? state, out AuthorizationRequest? request)
    {
        request = null;
        if (query.ContainsKey("request") || query.ContainsKey("request_uri"))
        {
            return ("request_not_supported", "Request objects and request_uri are not accepted.", SafeguardErrorCodes.RequestObjectUnsupported);
        }

        if (query["response_type"].ToString() != "code")
        {
            return ("unsupported_response_type", "Only response_type=code is supported.", SafeguardErrorCodes.ResponseTypeUnsupported);
        }

        if (query["response_mode"].ToString() is { Length: > 0 } mode && mode != "query")
        {
            return (OAuthResponses.InvalidRequest, "Only response_mode=query is supported.", SafeguardErrorCodes.RequestMalformed);
        }

        var challenge = query["code_challenge"].ToString();
        if (query["code_challenge_method"].ToString() != "S256" || !Pkce.IsChallenge(challenge))
        {
            return (OAuthResponses.InvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256.", SafeguardErrorCodes.PkceRequired);
        }

        if (state is { Length: > MaxStateLength })
        {
            return (OAuthResponses.InvalidRequest, "state is too long.", SafeguardErrorCodes.RequestMalformed);
        }

        var nonce = query["nonce"].ToString() is { Length: > 0 } n ? n : null;
        if (nonce is { Length: > MaxNonceLength })
        {
            return (OAuthResponses.InvalidRequest, "nonce is too long.", SafeguardErrorCodes.RequestMalformed);
        }

        var scopes = query["scope"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToArray();
        if (scopes.Any(scope => scope != "openid" && (!ClientRegistrationValidator.IsScopeToken(scope) || !client.AllowedScopes.Contains(scope, StringComparer.Ordinal))))
        {
            return (OAuthResponses.InvalidScope, "A requested scope is not allowed for this client.", SafeguardErrorCodes.ScopeNotAllowed);
        }

        string[] resources = query["resource"].Count > 0 ? [.. query["resource"].Select(r => r ?? string.Empty).Distinct(StringComparer.Ordinal)] : [.. client.AllowedResources.Take(1)];
        if (resources.Length == 0 || resources.Any(r => !client.AllowedResources.Contains(r, StringComparer.Ordinal)))
        {
            return (OAuthResponses.InvalidTarget, "A requested resource is not allowed for this client.", SafeguardErrorCodes.ResourceNotAllowed);
        }

        var prompt = query["prompt"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (prompt.Any(p => p is not ("none" or "login" or "consent")) || (prompt.Contains("none") && prompt.Length > 1))
        {
            return (OAuthResponses.InvalidRequest, "prompt must be none, or login and/or consent.", SafeguardErrorCodes.RequestMalformed);
        }

        long? maxAge = null;
        if (query["max_age"].ToString() is { Length: > 0 } maxAgeText)
        {
            if (!long.TryParse(maxAgeText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed > 366L * 24 * 3600)
            {
                return (OAuthResponses.InvalidRequest, "max_age must be a number of seconds.", SafeguardErrorCodes.RequestMalformed);
            }

            maxAge = parsed;
        }

        // acr_values (OIDC Core 3.1.2.1; RFC 9470 step-up): AAL2 asked for anywhere in the list is required; other values are voluntary.
        var acrValues = query["acr_values"].ToString();
        if (acrValues.Length > 1024)
        {
            return (OAuthResponses.InvalidRequest, "acr_values is too long.", SafeguardErrorCodes.RequestMalformed);
        }

        var requiredAcr = acrValues.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(AuthenticationContext.Aal2, StringComparer.Ordinal) ? AuthenticationContext.Aal2 : null;

        var now = time.GetUtcNow();
        request = new AuthorizationRequest
        {
            Id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
            ClientId = client.ClientId,
            RedirectUri = query["redirect_uri"].ToString(),
            Scopes = scopes,
            Resources = resources,
            State = state,
            Nonce = nonce,
            CodeChallenge = challenge,
            ForceLogin = prompt.Contains("login", StringComparer.Ordinal),
            MaxAge = maxAge,
            RequiredAcr = requiredAcr,
            CreatedAt = now,
            ExpiresAt = now + RequestLifetime,
        };
        return null;
    }

    private static bool OnlyResourceRepeats(IQueryCollection query) => query.All(p => p.Value.Count <= 1 || p.Key == "resource");

    private async Task RefuseAsync(HttpContext context, string? clientId, string message, string code)
    {
        var refusal = audit.Create(context, AuditEventType.TokenRefused, AuditOutcome.Denied, clientId, $"{code} invalid_request: {message}", 400) with
        {
            Action = AuditAction.Create,
            ResourceType = "authorization_code",
        };
        await audit.RecordAsync(refusal, context.RequestAborted).ConfigureAwait(false);
        await ErrorPage.WriteAsync(context, 400, message).ConfigureAwait(false);
    }

    private async Task RedirectErrorAsync(HttpContext context, string clientId, string redirectUri, string? state, string error, string description, string code)
    {
        var refusal = audit.Create(context, AuditEventType.TokenRefused, AuditOutcome.Denied, clientId, $"{code} {error}: {description}", 303) with
        {
            Action = AuditAction.Create,
            ResourceType = "authorization_code",
        };
        if (!await audit.RecordAsync(refusal, context.RequestAborted).ConfigureAwait(false))
        {
            await ErrorPage.WriteAsync(context, 503, "Signing in is unavailable for a moment. Try again shortly.").ConfigureAwait(false);
            return;
        }

        responder.RedirectError(context, redirectUri, state, error, description);
    }
}
