using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>Sign out (POST only, with the anti-forgery token): the session ends for good and its cookie is removed.</summary>
internal sealed class SignOutModel(SessionManager sessions, ISessionStore store, ServerAudit audit) : PageModel
{
    public static IActionResult OnGet() => new RedirectResult("/");

    public async Task<IActionResult> OnPostAsync()
    {
        PageSecurity.Apply(Response, null);
        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: false, HttpContext.RequestAborted).ConfigureAwait(false);
        if (check.Session is { } session && await sessions.EndAsync(session.Id, "logout", HttpContext.RequestAborted).ConfigureAwait(false))
        {
            var ended = await store.FindAsync(session.Id, HttpContext.RequestAborted).ConfigureAwait(false) ?? session;
            await audit.RecordAsync(SessionEvents.Ended(audit, HttpContext, ended, "signed out by the user"), HttpContext.RequestAborted).ConfigureAwait(false);
        }

        SignInCookies.ClearSession(Response);
        SignInCookies.ClearPending(Response);
        return Page();
    }
}
