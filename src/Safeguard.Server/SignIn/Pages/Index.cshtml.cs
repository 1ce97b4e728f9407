using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Server.Authorize;
using Safeguard.Server.Audit;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>The account page: who is signed in, and sign out.</summary>
internal sealed class IndexModel(SessionManager sessions, IUserStore users, ServerAudit audit) : PageModel
{
    public string? Username { get; private set; }

    public int IdleMinutes => (int)sessions.Options.IdleTimeout.TotalMinutes;

    public async Task<IActionResult> OnGetAsync()
    {
        PageSecurity.Apply(Response, null);
        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: true, HttpContext.RequestAborted).ConfigureAwait(false);
        if (check.TimedOut is { } ended)
        {
            await audit.RecordAsync(SessionEvents.TimedOut(audit, HttpContext, ended), HttpContext.RequestAborted).ConfigureAwait(false);
        }

        if (check.Session is { } session)
        {
            Username = (await users.FindBySubjectAsync(session.Subject, HttpContext.RequestAborted).ConfigureAwait(false))?.Username;
        }
        else if (Request.Cookies.ContainsKey(SignInCookies.Session))
        {
            SignInCookies.ClearSession(Response);
        }

        return Page();
    }
}
