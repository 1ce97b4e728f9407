using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// The consent page, shown when a client asks for it (<c>prompt=consent</c>): which application, what it will be able
/// to do (its scopes, in words), and for which service. Allow issues the code; Deny answers the client
/// <c>access_denied</c>. Either choice is audited before the browser goes back. Needs a live session of the user the
/// request is being answered for.
/// </summary>
internal sealed class ConsentModel(SessionManager sessions, SignInFlow flow, AuthorizationResponder responder, IAuthorizationStore store) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "request")]
    public string? RequestId { get; set; }

    [BindProperty]
    public string? Decision { get; set; }

    public string? ClientId { get; private set; }

    public IReadOnlyList<string> Permissions { get; private set; } = [];

    public IReadOnlyList<string> Resources { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        if (await LoadAsync().ConfigureAwait(false) is not { } loaded)
        {
            return new RedirectResult("/signin");
        }

        Show(loaded.Request);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        if (await LoadAsync().ConfigureAwait(false) is not { } loaded)
        {
            return new RedirectResult("/signin");
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
        return request is { ConsentRequested: true } && check.Session is { } session ? (request, session) : null;
    }

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
