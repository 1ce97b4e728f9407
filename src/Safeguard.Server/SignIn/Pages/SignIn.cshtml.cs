using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// The password step. Every refusal shows one message (the reason goes to the audit trail); a user with a second
/// factor goes on to it; one without finishes only where MFA is not required.
/// </summary>
internal sealed partial class SignInModel(
    PasswordSignIn passwords, IAuthenticatorStore authenticators, IUserStore users, Passkeys passkeys, SignInFlow flow, SignInCookies cookies, TimeProvider time, ILogger<SignInModel> logger) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "request")]
    public string? RequestId { get; set; }

    [BindProperty]
    public string? Username { get; set; }

    [BindProperty]
    public string? Password { get; set; }

    [BindProperty]
    public string? PasskeyState { get; set; }

    [BindProperty]
    public string? PasskeyResponse { get; set; }

    public string? Message { get; private set; }

    /// <summary>A passkey sign-in offered beside the password (null where the issuer is not a host name).</summary>
    public PasskeyCeremony? Passkey { get; private set; }

    public async Task<IActionResult> OnGetAsync()
    {
        var request = await flow.FindRequestAsync(RequestId, HttpContext.RequestAborted).ConfigureAwait(false);
        if (RequestId is not null && request is null)
        {
            RequestId = null;
            Message = "Your sign-in request has expired. Go back to the application and start again, or sign in here to your account.";
        }

        return Show(request);
    }

    /// <summary>A sign-in with a passkey alone (discoverable credential, user verification): multi-factor by itself.</summary>
    public async Task<IActionResult> OnPostPasskeyAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var request = await flow.FindRequestAsync(RequestId, cancellationToken).ConfigureAwait(false);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri));
        var result = await passkeys.FinishSignInAsync(PasskeyState, PasskeyResponse, expectedSubject: null, cancellationToken).ConfigureAwait(false);
        PasskeyState = PasskeyResponse = null;
        var user = result.Passkey is { } used ? await users.FindBySubjectAsync(used.Subject, cancellationToken).ConfigureAwait(false) : null;
        if (!result.Succeeded || user is not { Status: UserStatus.Active })
        {
            var recorded = await flow.RecordAsync(HttpContext, AuditEventType.LoginFailed, AuditOutcome.Denied, user?.Subject, request?.ClientId,
                $"{SafeguardErrorCodes.PasskeyRefused} passkey sign-in refused: {result.Reason ?? "the account is " + user?.Status.ToString().ToLowerInvariant()}",
                e => e with { ResourceType = "authenticator", ResourceId = result.Passkey?.Id }).ConfigureAwait(false);
            Message = recorded
                ? "That passkey did not work here. Try it again, or sign in with your username and password. If it keeps happening, contact your administrator."
                : "Signing in is unavailable for a moment. Try again shortly.";
            return Show(request);
        }

        var amr = Passkeys.MethodsOf(result.Passkey!);
        if (!await flow.RecordAsync(HttpContext, AuditEventType.LoginSucceeded, AuditOutcome.Success, user.Subject, request?.ClientId,
                "passkey verified (with user verification)", e => e with { Amr = amr, Acr = AuthenticationContext.Aal2, ResourceType = "authenticator", ResourceId = result.Passkey!.Id }).ConfigureAwait(false)
            || !await flow.CompleteAsync(HttpContext, user.Subject, amr, AuthenticationContext.Aal2, request).ConfigureAwait(false))
        {
            Response.StatusCode = 503;
            Message = "Signing in is unavailable for a moment. Try again shortly.";
            return Show(request);
        }

        return new EmptyResult();
    }

    private PageResult Show(Safeguard.Authorization.AuthorizationRequest? request)
    {
        Passkey = passkeys.BeginSignIn(allowed: null);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri), passkeyScript: Passkey is not null);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var request = await flow.FindRequestAsync(RequestId, cancellationToken).ConfigureAwait(false);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri));
        var password = Password ?? string.Empty;
        Password = null; // never rendered back
        var result = await passwords.SignInAsync(Username, password, SignInFlow.SourceOf(HttpContext), cancellationToken).ConfigureAwait(false);
        if (result.Alert is { } alert)
        {
            LogAlert(logger, alert.Failures, alert.Accounts, (int)alert.Window.TotalMinutes);
            await flow.RecordAsync(HttpContext, AuditEventType.LoginAlert, AuditOutcome.Denied, null, null,
                $"log-in monitoring: {alert.Failures} failed sign-ins across {alert.Accounts} usernames within {alert.Window.TotalMinutes} minutes",
                e => e with { Count = alert.Failures, ResourceType = "sign_in", ResourceId = null }).ConfigureAwait(false);
        }

        if (!result.Succeeded)
        {
            Response.StatusCode = result.Outcome == SignInOutcome.Busy ? 503 : 200;
            var recorded = await flow.RecordAsync(HttpContext, AuditEventType.LoginFailed, AuditOutcome.Denied, result.User?.Subject, request?.ClientId,
                $"{result.ErrorCode} password step refused{(result.Detail is null ? string.Empty : ": " + result.Detail)}").ConfigureAwait(false);
            Message = result.Outcome == SignInOutcome.Busy || !recorded
                ? "Too many sign-ins are being checked right now. Try again in a few seconds."
                : SignInFlow.GenericFailure;
            return Show(request);
        }

        var user = result.User;
        var factors = await authenticators.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false);
        if (factors.Count == 0 && flow.MfaRequired(user, request))
        {
            var why = flow.MfaRequired(user) ? "sign-in requires one" : "the application asked for AAL2 (acr_values)";
            await flow.RecordAsync(HttpContext, AuditEventType.LoginFailed, AuditOutcome.Denied, user.Subject, request?.ClientId,
                $"{SafeguardErrorCodes.MfaNotEnrolled} password right, but no second factor is enrolled and {why}").ConfigureAwait(false);
            Message = "Your account has no second factor yet, and signing in needs one. Ask your administrator to set up an authenticator app for you.";
            return Show(request);
        }

        if (!await flow.RecordAsync(HttpContext, AuditEventType.LoginSucceeded, AuditOutcome.Success, user.Subject, request?.ClientId,
            factors.Count == 0 ? "password verified (single factor)" : "password verified; second factor next").ConfigureAwait(false))
        {
            Response.StatusCode = 503;
            Message = "Signing in is unavailable for a moment. Try again shortly.";
            return Show(request);
        }

        if (factors.Count == 0)
        {
            if (!await flow.CompleteAsync(HttpContext, user.Subject, [AuthenticationContext.Password], AuthenticationContext.Aal1, request).ConfigureAwait(false))
            {
                Response.StatusCode = 503;
                Message = "Signing in is unavailable for a moment. Try again shortly.";
                return Show(request);
            }

            return new EmptyResult();
        }

        cookies.SetPending(Response, new PendingSignIn(user.Subject, time.GetUtcNow(), request?.Id));
        return new RedirectResult("/signin/mfa");
    }

    [LoggerMessage(EventId = LogEvents.LoginAlert, Level = LogLevel.Warning, Message = "Log-in monitoring: {Failures} failed sign-ins across {Accounts} usernames within {Minutes} minutes on this node.")]
    private static partial void LogAlert(ILogger logger, int failures, int accounts, int minutes);
}
