using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// The consent page, shown when a client asks for it (<c>prompt=consent</c>): which application, what it will be able
/// to do (its scopes, in words), for which service, and for which account. Allow issues the code; Deny answers the
/// client <c>access_denied</c>. Either choice is audited before the browser goes back. Needs a live session that
/// still satisfies the request (<c>prompt=login</c>, <c>max_age</c>, <c>acr_values</c>), checked again here: the page
/// cannot be reached directly to skip a sign-in the request demands.
/// </summary>
internal sealed class ConsentModel(SessionManager sessions, SignInFlow flow, AuthorizationResponder responder, IAuthorizationStore store, IUserStore users, TimeProvider time) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "request")]
    public string? RequestId { get; set; }

    [BindProperty]
    public string? Decision { get; set; }

    public string? ClientId { get; private set; }

    public string? Username { get; private set; }

    public IReadOnlyList<string> Permissions { get; private set; } = [];

    public IReadOnlyList<string> Resources { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        if (await LoadAsync().ConfigureAwait(false) is not { } loaded)
        {
            return Restart();
        }

        Show(loaded.Request);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (await LoadAsync().ConfigureAwait(false) is not { } loaded)
        {
            return Restart();
        }

        var (request, session) = loaded;
        Show(request);
        var allowed = Decision == "allow";
        if (!await flow.RecordAsync(HttpContext, allowed ? AuditEventType.ConsentGranted : AuditEventType.ConsentDenied, allowed ? AuditOutcome.Success : AuditOutcome.Denied,
                session.Subject, request.ClientId, $"{(allowed ? "allowed" : "refused")} scope '{string.Join(' ', request.Scopes)}' for {string.Join(' ', request.Resources)}",
                e => e with { SessionId = session.Id, Action = AuditAction.Execute, ResourceType = "client", ResourceId = request.ClientId }).ConfigureAwait(false))
        {
            Response.StatusCode = 503;
            return Page();
        }

        if (allowed)
        {
            await responder.CompleteAsync(HttpContext, request, session, consented: true).ConfigureAwait(false);
            return new EmptyResult();
        }

        await store.RemoveRequestAsync(request.Id, HttpContext.RequestAborted).ConfigureAwait(false);
        responder.RedirectError(HttpContext, request.RedirectUri, request.State, "access_denied", "The user did not allow the request.");
        return new EmptyResult();
    }

    /// <summary>The live request that asked for consent, and this browser's live session; or null.</summary>
    private async Task<(AuthorizationRequest Request, UserSession Session)?> LoadAsync()
    {
        var request = await flow.FindRequestAsync(RequestId, HttpContext.RequestAborted).ConfigureAwait(false);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri));
        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: true, HttpContext.RequestAborted).ConfigureAwait(false);
        if (request is not { ConsentRequested: true } || check.Session is not { } session || !AuthorizationResponder.Satisfies(request, session, time.GetUtcNow())
            || await users.FindBySubjectAsync(session.Subject, HttpContext.RequestAborted).ConfigureAwait(false) is not { Status: UserStatus.Active } user)
        {
            return null;
        }

        Username = user.Username;
        return (request, session);
    }

    /// <summary>Back to signing in: for this request when it is still live, so the sign-in it demands leads here again.</summary>
    private RedirectResult Restart() => new(RequestId is { Length: > 0 and <= 64 } id ? "/signin?request=" + Uri.EscapeDataString(id) : "/signin");

    private void Show(AuthorizationRequest request)
    {
        ClientId = request.ClientId;
        Resources = request.Resources;
        Permissions = [.. request.Scopes.Select(Describe)];
    }

    private static string Describe(string scope) => scope switch
    {
        "openid" => "Know who you are (your account's identifier)",
        "profile" => "See your username",
        "email" => "See your e-mail address",
        _ => $"Use the permission '{scope}'",
    };
}
