using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.Authorize;

/// <summary>
/// <c>GET /authorize</c> (RFC 6749 section 4.1.1, OAuth 2.1, RFC 9700, OIDC Core section 3.1.2): <c>response_type=code</c>
/// only, PKCE S256 required, the redirect URI matched exactly against the client's. A request that names no valid
/// client or redirect URI gets an error page and is never redirected; any other problem goes back to the client
/// with <c>error</c>, <c>state</c> and <c>iss</c>. A valid request is kept server-side and the browser goes to sign in,
/// or, with a live session that satisfies <c>prompt</c> and <c>max_age</c>, straight back with a code.
/// </summary>
internal sealed class AuthorizeEndpoint(
    ClientRegistry clients, IAuthorizationStore store, SessionManager sessions, AuthorizationResponder responder, IUserStore users, IOptions<SignInOptions> signIn,
    ServerAudit audit, TimeProvider time)
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

        // With a request_uri the redirect URI is the pushed one (repeating it here is optional).
        var redirectUri = query["redirect_uri"].ToString();
        if (redirectUri.Length == 0 && query["request_uri"].ToString() is { Length: > 0 } pushedUri
            && await PeekPushedAsync(pushedUri, client, context.RequestAborted).ConfigureAwait(false) is { } pushed)
        {
            redirectUri = pushed.RedirectUri;
        }

        if (!client.RedirectUris.Contains(redirectUri, StringComparer.Ordinal))
        {
            await RefuseAsync(context, client.ClientId, "The application sent you here with a return address it has not registered. Contact the application's administrator.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }

        // From here the redirect URI is the client's own: errors go back to it.
        var state = query["state"].ToString() is { Length: > 0 } s ? s : null;
        AuthorizationRequest? request;
        if (query["request_uri"].ToString() is { Length: > 0 } requestUri)
        {
            request = await RedeemPushedAsync(requestUri, client, redirectUri, context.RequestAborted).ConfigureAwait(false);
            if (request is null)
            {
                await RedirectErrorAsync(context, client.ClientId, redirectUri, state, "invalid_request_uri", "The request_uri is unknown, expired, already used or not this client's.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
                return;
            }

            state = request.State;
        }
        else if (client.RequirePushedAuthorizationRequests)
        {
            await RedirectErrorAsync(context, client.ClientId, redirectUri, state, OAuthResponses.InvalidRequest, "This client must push its authorization requests (RFC 9126) and send only request_uri here.", SafeguardErrorCodes.AuthorizationRequestInvalid).ConfigureAwait(false);
            return;
        }
        else if (Check(name => query[name].ToString() is { Length: > 0 } value ? value : null, [.. query["resource"].Select(r => r ?? string.Empty)], client, state, out request) is { } refusal)
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
        var fresh = session is not null && AuthorizationResponder.Satisfies(request!, session, now)
            // An AAL1 session serves only a user who still needs no second factor (a role that needs one may have come since).
            && (session.Acr == AuthenticationContext.Aal2
                || (await users.FindBySubjectAsync(session.Subject, context.RequestAborted).ConfigureAwait(false) is { } sessionUser && !signIn.Value.MfaRequiredFor(sessionUser)));
        if (fresh)
        {
            await responder.CompleteAsync(context, request!, session!).ConfigureAwait(false);
            return;
        }

        if (request!.NoPrompt)
        {
            await store.RemoveRequestAsync(request!.Id, context.RequestAborted).ConfigureAwait(false);
            await RedirectErrorAsync(context, client.ClientId, redirectUri, state, "login_required", "The user must sign in.", SafeguardErrorCodes.LoginRequired).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = "/signin?request=" + Uri.EscapeDataString(request!.Id);
        OAuthResponses.NoStore(context.Response);
    }

    /// <summary>The prefix of a pushed request's <c>request_uri</c> (RFC 9126 section 2.2).</summary>
    public const string RequestUriPrefix = "urn:ietf:params:oauth:request_uri:";

    /// <summary>
    /// Checks an authorization request's parameters, from the query or from a pushed request's body (RFC 9126 applies
    /// the same rules), and builds the request; or says what is wrong.
    /// </summary>
    internal (string Error, string Description, string Code)? Check(Func<string, string?> parameter, IReadOnlyList<string> requestedResources, Client client, string? state, out AuthorizationRequest? request)
    {
        request = null;
        if (parameter("request") is not null || parameter("request_uri") is not null)
        {
            return ("request_not_supported", "Request objects are not accepted, nor a request_uri inside a pushed request.", SafeguardErrorCodes.RequestObjectUnsupported);
        }

        if (parameter("response_type") != "code")
        {
            return ("unsupported_response_type", "Only response_type=code is supported.", SafeguardErrorCodes.ResponseTypeUnsupported);
        }

        if (parameter("response_mode") is { } mode && mode != "query")
        {
            return (OAuthResponses.InvalidRequest, "Only response_mode=query is supported.", SafeguardErrorCodes.RequestMalformed);
        }

        var challenge = parameter("code_challenge") ?? string.Empty;
        if (parameter("code_challenge_method") != "S256" || !Pkce.IsChallenge(challenge))
        {
            return (OAuthResponses.InvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256.", SafeguardErrorCodes.PkceRequired);
        }

        if (state is { Length: > MaxStateLength })
        {
            return (OAuthResponses.InvalidRequest, "state is too long.", SafeguardErrorCodes.RequestMalformed);
        }

        var nonce = parameter("nonce");
        if (nonce is { Length: > MaxNonceLength })
        {
            return (OAuthResponses.InvalidRequest, "nonce is too long.", SafeguardErrorCodes.RequestMalformed);
        }

        var scopes = (parameter("scope") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToArray();
        if (scopes.Any(scope => scope != "openid" && (!ClientRegistrationValidator.IsScopeToken(scope) || !client.AllowedScopes.Contains(scope, StringComparer.Ordinal))))
        {
            return (OAuthResponses.InvalidScope, "A requested scope is not allowed for this client.", SafeguardErrorCodes.ScopeNotAllowed);
        }

        string[] resources = requestedResources.Count > 0 ? [.. requestedResources.Distinct(StringComparer.Ordinal)] : [.. client.AllowedResources.Take(1)];
        if (resources.Length == 0 || resources.Any(r => !client.AllowedResources.Contains(r, StringComparer.Ordinal)))
        {
            return (OAuthResponses.InvalidTarget, "A requested resource is not allowed for this client.", SafeguardErrorCodes.ResourceNotAllowed);
        }

        var prompt = (parameter("prompt") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (prompt.Any(p => p is not ("none" or "login" or "consent")) || (prompt.Contains("none") && prompt.Length > 1))
        {
            return (OAuthResponses.InvalidRequest, "prompt must be none, or login and/or consent.", SafeguardErrorCodes.RequestMalformed);
        }

        long? maxAge = null;
        if (parameter("max_age") is { } maxAgeText)
        {
            if (!long.TryParse(maxAgeText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed > 366L * 24 * 3600)
            {
                return (OAuthResponses.InvalidRequest, "max_age must be a number of seconds.", SafeguardErrorCodes.RequestMalformed);
            }

            maxAge = parsed;
        }

        // acr_values (OIDC Core 3.1.2.1; RFC 9470 step-up): AAL2 asked for anywhere in the list is required; other values are voluntary.
        var acrValues = parameter("acr_values") ?? string.Empty;
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
            RedirectUri = parameter("redirect_uri") ?? string.Empty,
            Scopes = scopes,
            Resources = resources,
            State = state,
            Nonce = nonce,
            CodeChallenge = challenge,
            ForceLogin = prompt.Contains("login", StringComparer.Ordinal),
            NoPrompt = prompt.Contains("none", StringComparer.Ordinal),
            ConsentRequested = prompt.Contains("consent", StringComparer.Ordinal),
            MaxAge = maxAge,
            RequiredAcr = requiredAcr,
            CreatedAt = now,
            ExpiresAt = now + RequestLifetime,
        };
        return null;
    }

    /// <summary>A pushed request of this client, still live, without using it (to learn its redirect URI).</summary>
    private async Task<AuthorizationRequest?> PeekPushedAsync(string requestUri, Client client, CancellationToken cancellationToken)
    {
        if (!requestUri.StartsWith(RequestUriPrefix, StringComparison.Ordinal) || requestUri.Length > RequestUriPrefix.Length + 64)
        {
            return null;
        }

        var pushed = await store.FindRequestAsync(requestUri[RequestUriPrefix.Length..], cancellationToken).ConfigureAwait(false);
        return pushed is { Pushed: true } && pushed.ClientId == client.ClientId && time.GetUtcNow() < pushed.ExpiresAt ? pushed : null;
    }

    /// <summary>
    /// Uses a pushed request once: it must be this client's, live, and for this redirect URI; it is removed (a second
    /// use fails) and the sign-in continues with a new request id and the usual lifetime.
    /// </summary>
    private async Task<AuthorizationRequest?> RedeemPushedAsync(string requestUri, Client client, string redirectUri, CancellationToken cancellationToken)
    {
        if (await PeekPushedAsync(requestUri, client, cancellationToken).ConfigureAwait(false) is not { } pushed
            || pushed.RedirectUri != redirectUri
            || !await store.RemoveRequestAsync(pushed.Id, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var now = time.GetUtcNow();
        return pushed with { Id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)), Pushed = false, CreatedAt = now, ExpiresAt = now + RequestLifetime };
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
