using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Safeguard.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// The second step: a TOTP code (six digits), a recovery code, or one of the user's passkeys. A right, unused code,
/// or a verified passkey, finishes the sign-in at AAL2.
/// </summary>
internal sealed class MfaModel(TotpAuthenticators totp, RecoveryCodes recovery, IAuthenticatorStore authenticators, Passkeys passkeys, SignInFlow flow, SignInCookies cookies) : PageModel
{
    [BindProperty]
    public string? Code { get; set; }

    [BindProperty]
    public string? PasskeyState { get; set; }

    [BindProperty]
    public string? PasskeyResponse { get; set; }

    public string? Message { get; private set; }

    /// <summary>A passkey ceremony for the user's passkeys, when they have any.</summary>
    public PasskeyCeremony? Passkey { get; private set; }

    /// <summary>Whether the user has a code-based factor (an authenticator app or recovery codes).</summary>
    public bool HasCodes { get; private set; } = true;

    public async Task<IActionResult> OnGetAsync()
    {
        var pending = cookies.ReadPending(Request);
        if (pending is null)
        {
            return Restart();
        }

        var request = await flow.FindRequestAsync(pending.RequestId, HttpContext.RequestAborted).ConfigureAwait(false);
        return await ShowAsync(pending, request).ConfigureAwait(false);
    }

    public async Task<IActionResult> OnPostPasskeyAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var pending = cookies.ReadPending(Request);
        if (pending is null)
        {
            return Restart();
        }

        var request = await flow.FindRequestAsync(pending.RequestId, cancellationToken).ConfigureAwait(false);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri));
        var result = await passkeys.FinishSignInAsync(PasskeyState, PasskeyResponse, pending.Subject, cancellationToken).ConfigureAwait(false);
        PasskeyState = PasskeyResponse = null;
        if (!result.Succeeded)
        {
            await flow.RecordAsync(HttpContext, AuditEventType.MfaFailed, AuditOutcome.Denied, pending.Subject, request?.ClientId,
                $"{SafeguardErrorCodes.PasskeyRefused} passkey refused: {result.Reason}", e => e with { ResourceType = "authenticator", ResourceId = result.Passkey?.Id }).ConfigureAwait(false);
            Message = "That passkey did not work. Try it again, or use a code from your authenticator app.";
            return await ShowAsync(pending, request).ConfigureAwait(false);
        }

        string[] amr = [AuthenticationContext.Password, .. Passkeys.MethodsOf(result.Passkey!)];
        if (!await flow.RecordAsync(HttpContext, AuditEventType.MfaSucceeded, AuditOutcome.Success, pending.Subject, request?.ClientId, "passkey verified",
                e => e with { Amr = amr, Acr = AuthenticationContext.Aal2, ResourceType = "authenticator", ResourceId = result.Passkey!.Id }).ConfigureAwait(false)
            || !await flow.CompleteAsync(HttpContext, pending.Subject, amr, AuthenticationContext.Aal2, request).ConfigureAwait(false))
        {
            Response.StatusCode = 503;
            Message = "Signing in is unavailable for a moment. Try again shortly.";
            return await ShowAsync(pending, request).ConfigureAwait(false);
        }

        return new EmptyResult();
    }

    private async Task<PageResult> ShowAsync(PendingSignIn pending, Safeguard.Authorization.AuthorizationRequest? request)
    {
        var factors = await authenticators.GetForUserAsync(pending.Subject, HttpContext.RequestAborted).ConfigureAwait(false);
        var keys = factors.Where(a => a.Kind == AuthenticatorKind.Passkey).ToList();
        HasCodes = keys.Count < factors.Count;
        Passkey = keys.Count > 0 ? passkeys.BeginSignIn(keys) : null;
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri), passkeyScript: Passkey is not null);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var cancellationToken = HttpContext.RequestAborted;
        var pending = cookies.ReadPending(Request);
        if (pending is null)
        {
            return Restart();
        }

        var request = await flow.FindRequestAsync(pending.RequestId, cancellationToken).ConfigureAwait(false);
        PageSecurity.Apply(Response, PageSecurity.OriginOf(request?.RedirectUri));
        var code = (Code ?? string.Empty).Trim();
        Code = null;
        var isTotp = code.Replace(" ", string.Empty, StringComparison.Ordinal) is { Length: 6 } digits && digits.All(char.IsAsciiDigit);
        var result = isTotp
            ? await totp.VerifyAsync(pending.Subject, code, cancellationToken).ConfigureAwait(false)
            : await recovery.VerifyAsync(pending.Subject, code, cancellationToken).ConfigureAwait(false);
        var method = isTotp ? "authenticator app" : "recovery code";
        if (!result.Succeeded)
        {
            var reason = result.Outcome switch
            {
                MfaOutcome.Replayed => SafeguardErrorCodes.MfaReplayed,
                MfaOutcome.Disabled => SafeguardErrorCodes.MfaDisabled,
                MfaOutcome.NotEnrolled => SafeguardErrorCodes.MfaNotEnrolled,
                _ => SafeguardErrorCodes.MfaInvalid,
            };
            await flow.RecordAsync(HttpContext, AuditEventType.MfaFailed, AuditOutcome.Denied, pending.Subject, request?.ClientId,
                $"{reason} {method} refused ({result.Failures} consecutive failures)").ConfigureAwait(false);
            Message = result.Outcome == MfaOutcome.Disabled
                ? "This second factor is locked after too many wrong codes. Contact your administrator."
                : "That code did not work. Enter the code your authenticator app shows now (each code works once), or an unused recovery code.";
            return await ShowAsync(pending, request).ConfigureAwait(false);
        }

        string[] amr = isTotp
            ? [AuthenticationContext.Password, AuthenticationContext.OneTimePassword, AuthenticationContext.MultiFactor]
            : [AuthenticationContext.Password, AuthenticationContext.MultiFactor];
        if (!await flow.RecordAsync(HttpContext, AuditEventType.MfaSucceeded, AuditOutcome.Success, pending.Subject, request?.ClientId, $"{method} verified",
                e => e with { Amr = amr, Acr = AuthenticationContext.Aal2 }).ConfigureAwait(false)
            || !await flow.CompleteAsync(HttpContext, pending.Subject, amr, AuthenticationContext.Aal2, request).ConfigureAwait(false))
        {
            Response.StatusCode = 503;
            Message = "Signing in is unavailable for a moment. Try again shortly.";
            return await ShowAsync(pending, request).ConfigureAwait(false);
        }

        return new EmptyResult();
    }

    private static RedirectResult Restart() => new("/signin");
}
