using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// The account page: who is signed in; their sign-in methods (add a passkey, remove one while another second factor
/// remains); their live sessions on every device (end any other one: its refresh tokens die with it and its
/// <c>sid</c> is recorded as ended); sign out. Every change is audited before it is made.
/// </summary>
internal sealed class IndexModel(
    SessionManager sessions, ISessionStore sessionStore, IUserStore users, IAuthenticatorStore authenticators, Passkeys passkeys,
    IOptions<SignInOptions> signIn, ServerAudit audit, SignInFlow flow, TimeProvider time) : PageModel
{
    public string? Username { get; private set; }

    public string? Message { get; private set; }

    public int IdleMinutes => (int)sessions.Options.IdleTimeout.TotalMinutes;

    public string? CurrentSessionId { get; private set; }

    public IReadOnlyList<UserSession> Sessions { get; private set; } = [];

    public IReadOnlyList<Authenticator> Factors { get; private set; } = [];

    public int UnusedRecoveryCodes { get; private set; }

    /// <summary>A registration ceremony for a new passkey (null where passkeys cannot be offered).</summary>
    public PasskeyCeremony? NewPasskey { get; private set; }

    public bool PasskeysAvailable => passkeys.Available;

    /// <summary>How recent a sign-in with a second factor must be to change the sign-in methods (NIST SP 800-63B 6.1.2.1: bind at the level used).</summary>
    public static readonly TimeSpan RecentSignIn = TimeSpan.FromMinutes(15);

    /// <summary>Whether this session may change the sign-in methods: AAL2, signed in within <see cref="RecentSignIn"/>.</summary>
    public bool MayChangeMethods { get; private set; }

    [BindProperty]
    public string? PasskeyState { get; set; }

    [BindProperty]
    public string? PasskeyResponse { get; set; }

    [BindProperty]
    public string? Id { get; set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (await SignedInAsync().ConfigureAwait(false) is not { } signedIn)
        {
            PageSecurity.Apply(Response, null);
            return Page();
        }

        return await ShowAsync(signedIn.User, signedIn.Session).ConfigureAwait(false);
    }

    public async Task<IActionResult> OnPostAddPasskeyAsync()
    {
        if (await SignedInAsync().ConfigureAwait(false) is not { } signedIn)
        {
            return new RedirectResult("/");
        }

        var (user, session) = signedIn;
        if (!Recent(session))
        {
            Message = "To add a sign-in method, sign out and sign in again with your second factor first.";
            return await ShowAsync(user, session).ConfigureAwait(false);
        }

        var result = await passkeys.FinishRegistrationAsync(user, PasskeyState, PasskeyResponse, HttpContext.RequestAborted).ConfigureAwait(false);
        PasskeyState = PasskeyResponse = null;
        if (!result.Succeeded)
        {
            await flow.RecordAsync(HttpContext, AuditEventType.MfaEnrolled, AuditOutcome.Denied, user.Subject, null,
                $"{SafeguardErrorCodes.PasskeyRegistrationRefused} passkey registration refused: {result.Reason}", e => e with { Action = AuditAction.Create, ResourceType = "authenticator", SessionId = session.Id }).ConfigureAwait(false);
            Message = "The passkey was not added. Try again; if your device offers several, choose one that is not already on this account.";
            return await ShowAsync(user, session).ConfigureAwait(false);
        }

        var passkey = result.Passkey!;
        if (!await flow.RecordAsync(HttpContext, AuditEventType.MfaEnrolled, AuditOutcome.Success, user.Subject, null,
                $"passkey added from the account page ({(passkey.BackupEligible ? "synced" : "device-bound")})",
                e => e with { Action = AuditAction.Create, ResourceType = "authenticator", ResourceId = passkey.Id, SessionId = session.Id }).ConfigureAwait(false))
        {
            return await UnavailableAsync(user, session).ConfigureAwait(false);
        }

        await authenticators.AddAsync([passkey], HttpContext.RequestAborted).ConfigureAwait(false);
        return new RedirectResult("/");
    }

    public async Task<IActionResult> OnPostRemovePasskeyAsync()
    {
        if (await SignedInAsync().ConfigureAwait(false) is not { } signedIn)
        {
            return new RedirectResult("/");
        }

        var (user, session) = signedIn;
        if (!Recent(session))
        {
            Message = "To remove a sign-in method, sign out and sign in again with your second factor first.";
            return await ShowAsync(user, session).ConfigureAwait(false);
        }

        var factors = await authenticators.GetForUserAsync(user.Subject, HttpContext.RequestAborted).ConfigureAwait(false);
        if (factors.FirstOrDefault(a => a.Id == Id && a.Kind == AuthenticatorKind.Passkey) is not { } passkey)
        {
            return new RedirectResult("/");
        }

        var others = factors.Count(a => a.Id != passkey.Id && a.Kind is AuthenticatorKind.Passkey or AuthenticatorKind.Totp);
        if (others == 0 && signIn.Value.MfaRequiredFor(user))
        {
            Message = "This is your only second factor, and signing in needs one. Add another passkey or an authenticator app first.";
            return await ShowAsync(user, session).ConfigureAwait(false);
        }

        if (!await flow.RecordAsync(HttpContext, AuditEventType.MfaRemoved, AuditOutcome.Success, user.Subject, null, "passkey removed from the account page",
                e => e with { Action = AuditAction.Delete, ResourceType = "authenticator", ResourceId = passkey.Id, SessionId = session.Id }).ConfigureAwait(false))
        {
            return await UnavailableAsync(user, session).ConfigureAwait(false);
        }

        await authenticators.RemoveAsync(user.Subject, passkey.Id, HttpContext.RequestAborted).ConfigureAwait(false);
        return new RedirectResult("/");
    }

    public async Task<IActionResult> OnPostEndSessionAsync()
    {
        if (await SignedInAsync().ConfigureAwait(false) is not { } signedIn)
        {
            return new RedirectResult("/");
        }

        var (user, session) = signedIn;
        var target = Id is { Length: > 0 and <= 64 } && Id != session.Id ? await sessionStore.FindAsync(Id, HttpContext.RequestAborted).ConfigureAwait(false) : null;
        if (target is null || target.Subject != user.Subject || target.EndedAt is not null)
        {
            return new RedirectResult("/");
        }

        if (!await audit.RecordAsync(SessionEvents.Ended(audit, HttpContext, target with { EndedAt = time.GetUtcNow(), EndReason = "ended by the user" }, "ended by the user from the account page"), HttpContext.RequestAborted).ConfigureAwait(false))
        {
            return await UnavailableAsync(user, session).ConfigureAwait(false);
        }

        await sessions.EndAsync(target.Id, "ended by the user", HttpContext.RequestAborted).ConfigureAwait(false);
        return new RedirectResult("/");
    }

    /// <summary>The live session of this browser and its user (touched: a visit is activity), or null (its cookie cleared).</summary>
    private async Task<(User User, UserSession Session)?> SignedInAsync()
    {
        var check = await sessions.CheckAsync(Request.Cookies[SignInCookies.Session], touch: true, HttpContext.RequestAborted).ConfigureAwait(false);
        if (check.TimedOut is { } ended)
        {
            await audit.RecordAsync(SessionEvents.TimedOut(audit, HttpContext, ended), HttpContext.RequestAborted).ConfigureAwait(false);
        }

        if (check.Session is { } session && await users.FindBySubjectAsync(session.Subject, HttpContext.RequestAborted).ConfigureAwait(false) is { Status: UserStatus.Active } user)
        {
            return (user, session);
        }

        if (Request.Cookies.ContainsKey(SignInCookies.Session))
        {
            SignInCookies.ClearSession(Response);
        }

        return null;
    }

    private async Task<PageResult> ShowAsync(User user, UserSession session)
    {
        var cancellationToken = HttpContext.RequestAborted;
        Username = user.Username;
        CurrentSessionId = session.Id;
        var now = time.GetUtcNow();
        Sessions = [.. (await sessionStore.GetActiveForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false))
            .Where(s => sessions.LimitReached(s, now) is null)
            .OrderByDescending(s => s.Id == session.Id).ThenByDescending(s => s.LastSeenAt)];
        var factors = await authenticators.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false);
        Factors = [.. factors.Where(a => a.Kind != AuthenticatorKind.RecoveryCode)];
        UnusedRecoveryCodes = factors.Count(a => a.Kind == AuthenticatorKind.RecoveryCode && a.Counter == 0);
        MayChangeMethods = Recent(session);
        NewPasskey = MayChangeMethods ? await passkeys.BeginRegistrationAsync(user, cancellationToken).ConfigureAwait(false) : null;
        PageSecurity.Apply(Response, null, passkeyScript: NewPasskey is not null);
        return Page();
    }

    private bool Recent(UserSession session) =>
        session.Acr == AuthenticationContext.Aal2 && time.GetUtcNow() - session.AuthenticatedAt <= RecentSignIn;

    private async Task<PageResult> UnavailableAsync(User user, UserSession session)
    {
        var page = await ShowAsync(user, session).ConfigureAwait(false);
        Response.StatusCode = 503;
        Message = "That is unavailable for a moment; nothing was changed. Try again shortly.";
        return page;
    }
}
