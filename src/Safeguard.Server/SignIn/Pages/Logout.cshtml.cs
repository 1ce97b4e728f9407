using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;
using Safeguard.Tokens;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), the <c>end_session_endpoint</c>. A valid
/// <c>id_token_hint</c> (read under the one JWS policy) that names the browser's own session ends it at once;
/// without one, the person confirms with a form (so a link on another site cannot sign anyone out). The session ends
/// for good and its refresh tokens with it; the browser goes back to <c>post_logout_redirect_uri</c> with
/// <c>state</c> only if that URI is one of the client's registered redirect URIs, exactly.
/// </summary>
internal sealed class LogoutModel(IdTokenHintReader hints, SessionManager sessions, ISessionStore store, ClientRegistry clients, ServerAudit audit) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "id_token_hint")]
    public string? IdTokenHint { get; set; }

    [BindProperty(SupportsGet = true, Name = "client_id")]
    public string? ClientId { get; set; }

    [BindProperty(SupportsGet = true, Name = "post_logout_redirect_uri")]
    public string? PostLogoutRedirectUri { get; set; }

    [BindProperty(SupportsGet = true, Name = "state")]
    public string? State { get; set; }

    public bool Done { get; private set; }

    public string? Message { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        PageSecurity.Apply(Response, null);
        IdTokenHint? hint = null;
        if (IdTokenHint is not null)
        {
            hint = hints.Read(IdTokenHint);
            if (hint is null || (ClientId is not null && !hint.Audiences.Contains(ClientId, StringComparer.Ordinal)))
            {
                Message = "The sign-out request is not valid. Close this window, or sign out from your account page.";
                return Page();
            }

            ClientId ??= hint.Audiences[0];
        }

        if (!RedirectAllowed())
        {
            Message = "The application asked to return to an address it has not registered. Close this window, or sign out from your account page.";
            return Page();
        }

        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: false, HttpContext.RequestAborted).ConfigureAwait(false);
        if (hint is not null && check.Session is { } current && current.Id == hint.SessionId && current.Subject == hint.Subject)
        {
            return await EndAsync(current, $"signed out by client {ClientId} (RP-initiated logout)").ConfigureAwait(false);
        }

        if (check.Session is null)
        {
            // Nothing to end in this browser: the session named by a valid hint (if any) ends; the person is signed out either way.
            if (hint is not null && await store.FindAsync(hint.SessionId, HttpContext.RequestAborted).ConfigureAwait(false) is { EndedAt: null } named && named.Subject == hint.Subject)
            {
                return await EndAsync(named, $"signed out by client {ClientId} (RP-initiated logout, from another browser)").ConfigureAwait(false);
            }

            return Finish();
        }

        PageSecurity.Apply(Response, PageSecurity.OriginOf(PostLogoutRedirectUri));
        return Page(); // confirm
    }

    public async Task<IActionResult> OnPostAsync()
    {
        PageSecurity.Apply(Response, PageSecurity.OriginOf(PostLogoutRedirectUri));
        if (!RedirectAllowed())
        {
            Message = "The application asked to return to an address it has not registered. Close this window, or sign out from your account page.";
            return Page();
        }

        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: false, HttpContext.RequestAborted).ConfigureAwait(false);
        return check.Session is { } session
            ? await EndAsync(session, $"signed out by the user at the request of client {ClientId ?? "(unnamed)"} (RP-initiated logout)").ConfigureAwait(false)
            : Finish();
    }

    private bool RedirectAllowed() =>
        PostLogoutRedirectUri is null
        || (ClientId is not null && clients.Find(ClientId) is { Enabled: true } client && client.RedirectUris.Contains(PostLogoutRedirectUri, StringComparer.Ordinal));

    private async Task<IActionResult> EndAsync(UserSession session, string reason)
    {
        if (await sessions.EndAsync(session.Id, "logout", HttpContext.RequestAborted).ConfigureAwait(false))
        {
            await audit.RecordAsync(SessionEvents.Ended(audit, HttpContext, session, reason) with { ClientId = ClientId }, HttpContext.RequestAborted).ConfigureAwait(false);
        }

        return Finish();
    }

    private IActionResult Finish()
    {
        SignInCookies.ClearSession(Response);
        SignInCookies.ClearPending(Response);
        if (PostLogoutRedirectUri is null)
        {
            Done = true;
            return Page();
        }

        var location = PostLogoutRedirectUri + (State is null ? string.Empty : (PostLogoutRedirectUri.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "state=" + Uri.EscapeDataString(State));
        OAuthResponses.NoStore(Response);
        return new RedirectResult(location, permanent: false);
    }
}
