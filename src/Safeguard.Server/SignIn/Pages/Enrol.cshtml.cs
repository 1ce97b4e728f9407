using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using QRCoder;
using Safeguard.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn.Pages;

/// <summary>
/// Enrolment with a link an administrator gave (or the first administrator's link printed at first start): choose a
/// password, then set up an authenticator app (QR code, or the key typed in) and confirm it with a code; the link is
/// then spent, ten recovery codes are shown once and the user is signed in at AAL2. The link's code is moved from the
/// URL into a sealed cookie at once, so it is not left in history or sent on.
/// Every change is audited before it is made.
/// </summary>
internal sealed class EnrolModel(
    EnrolmentLinks links, IUserStore users, IAuthenticatorStore authenticators, PasswordPolicy policy, PasswordHasher hasher,
    TotpAuthenticators totp, RecoveryCodes recovery, Passkeys passkeys, SignInFlow flow, SignInCookies cookies, IOptions<SignInOptions> options, TimeProvider time) : PageModel
{
    public const string Expired = "This enrolment link has expired or has already been used. Ask your administrator for a new one.";

    public EnrolStep Step { get; private set; }

    public string? Username { get; private set; }

    public string? Message { get; private set; }

    public int MinimumLength { get; private set; }

    public string? QrCodeDataUri { get; private set; }

    public string? TotpSecret { get; private set; }

    public IReadOnlyList<string> Codes { get; private set; } = [];

    /// <summary>Whether the finished enrolment leads to the sign-in page rather than the account.</summary>
    public bool SignInNext { get; private set; }

    [BindProperty]
    public string? NewPassword { get; set; }

    [BindProperty]
    public string? ConfirmPassword { get; set; }

    [BindProperty]
    public string? Code { get; set; }

    [BindProperty]
    public string? PasskeyState { get; set; }

    [BindProperty]
    public string? PasskeyResponse { get; set; }

    /// <summary>A passkey offered instead of the authenticator app (where passkeys can be offered).</summary>
    public PasskeyCeremony? Passkey { get; private set; }

    public async Task<IActionResult> OnGetAsync([FromQuery(Name = "code")] string? code)
    {
        PageSecurity.Apply(Response, null);
        var cancellationToken = HttpContext.RequestAborted;
        if (code is not null)
        {
            var link = await links.FindLiveAsync(code, cancellationToken).ConfigureAwait(false);
            if (link is null)
            {
                SignInCookies.ClearEnrolment(Response);
                return Invalid(Expired);
            }

            cookies.SetEnrolment(Response, new PendingEnrolment(code, link.Subject, time.GetUtcNow()));
            return new RedirectResult(EnrolmentLinks.Path);
        }

        var (pending, user) = await LoadAsync(cancellationToken).ConfigureAwait(false);
        if (pending is null || user is null)
        {
            return Invalid(Expired);
        }

        return await ShowAsync(pending, user, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IActionResult> OnPostPasswordAsync()
    {
        PageSecurity.Apply(Response, null);
        var cancellationToken = HttpContext.RequestAborted;
        var password = NewPassword ?? string.Empty;
        var confirm = ConfirmPassword ?? string.Empty;
        NewPassword = ConfirmPassword = null; // never rendered back
        var (pending, user) = await LoadAsync(cancellationToken).ConfigureAwait(false);
        if (pending is null || user is null)
        {
            return Invalid(Expired);
        }

        if (user.PasswordHash is not null)
        {
            return await ShowAsync(pending, user, cancellationToken).ConfigureAwait(false);
        }

        var check = policy.Check(password, hasMfa: options.Value.RequireMfa, user.Username, user.Email);
        if (!check.Allowed || !string.Equals(password, confirm, StringComparison.Ordinal))
        {
            Message = check.Allowed ? "The two passwords are not the same. Type the same password in both fields." : check.Message;
            return ShowPassword(user);
        }

        var hash = await hasher.HashAsync(password, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (!await flow.RecordAsync(HttpContext, AuditEventType.UserChanged, AuditOutcome.Success, user.Subject, null, "password set with an enrolment link",
                e => e with { Action = AuditAction.Update, Changes = [new AuditChange("password", null, "(set)")] }).ConfigureAwait(false))
        {
            return Unavailable(() => ShowPassword(user));
        }

        if (!await users.UpdateAsync(user with { PasswordHash = hash, PasswordChangedAt = now, UpdatedAt = now }, user.UpdatedAt, cancellationToken).ConfigureAwait(false))
        {
            Message = "Your account changed while you were choosing a password. Choose it again.";
            return await ShowAsync(pending, user, cancellationToken).ConfigureAwait(false);
        }

        cookies.SetEnrolment(Response, pending with { PasswordSetHere = true });

        return new RedirectResult(EnrolmentLinks.Path);
    }

    public Task<IActionResult> OnPostTotpAsync()
    {
        var typed = Code;
        Code = null;
        return AtFactorStepAsync(async (pending, user, shown) =>
        {
            if (totp.Confirm(shown, typed) is not { } confirmed)
            {
                Message = "That code did not match. Enter the 6-digit code your authenticator app shows now for this account.";
                return await ShowTotpAsync(user, shown).ConfigureAwait(false);
            }

            return await FinishAsync(pending, user, confirmed, "authenticator app",
                [AuthenticationContext.Password, AuthenticationContext.OneTimePassword, AuthenticationContext.MultiFactor], () => ShowTotpAsync(user, shown)).ConfigureAwait(false);
        });
    }

    /// <summary>A passkey instead of the authenticator app.</summary>
    public Task<IActionResult> OnPostPasskeyAsync() => AtFactorStepAsync(async (pending, user, shown) =>
    {
        var cancellationToken = HttpContext.RequestAborted;
        var result = await passkeys.FinishRegistrationAsync(user, PasskeyState, PasskeyResponse, cancellationToken).ConfigureAwait(false);
        PasskeyState = PasskeyResponse = null;
        if (!result.Succeeded)
        {
            await flow.RecordAsync(HttpContext, AuditEventType.MfaEnrolled, AuditOutcome.Denied, user.Subject, null,
                $"{SafeguardErrorCodes.PasskeyRegistrationRefused} passkey registration refused at enrolment: {result.Reason}", e => e with { Action = AuditAction.Create, ResourceType = "authenticator" }).ConfigureAwait(false);
            Message = "The passkey was not set up. Try again, or use an authenticator app.";
            return await ShowTotpAsync(user, shown).ConfigureAwait(false);
        }

        return await FinishAsync(pending, user, result.Passkey!, "passkey",
            [AuthenticationContext.Password, .. Passkeys.MethodsOf(result.Passkey!)], () => ShowTotpAsync(user, shown)).ConfigureAwait(false);
    });

    /// <summary>
    /// The start both factor handlers share: the enrolment still live, the password set and the app's key shown (the
    /// step was reached); otherwise the page as the enrolment stands.
    /// </summary>
    private async Task<IActionResult> AtFactorStepAsync(Func<PendingEnrolment, User, Authenticator, Task<IActionResult>> step)
    {
        PageSecurity.Apply(Response, null);
        var cancellationToken = HttpContext.RequestAborted;
        var (pending, user) = await LoadAsync(cancellationToken).ConfigureAwait(false);
        if (pending is null || user is null)
        {
            return Invalid(Expired);
        }

        if (user.PasswordHash is null || pending.TotpId is null || pending.TotpSeed is null)
        {
            return await ShowAsync(pending, user, cancellationToken).ConfigureAwait(false);
        }

        return await step(pending, user, ShownTotp(pending, user)).ConfigureAwait(false);
    }

    /// <summary>Records the enrolment, spends the link, stores the factor and ten recovery codes, signs in, shows the codes once.</summary>
    private async Task<IActionResult> FinishAsync(PendingEnrolment pending, User user, Authenticator factor, string what, string[] amr, Func<Task<PageResult>> again)
    {
        var cancellationToken = HttpContext.RequestAborted;
        var (codes, records) = recovery.Create(user);
        if (!await flow.RecordAsync(HttpContext, AuditEventType.MfaEnrolled, AuditOutcome.Success, user.Subject, null,
                $"{what} and {RecoveryCodes.Count} recovery codes enrolled with an enrolment link; the link is spent",
                e => e with { Action = AuditAction.Create, ResourceType = "authenticator", ResourceId = factor.Id }).ConfigureAwait(false))
        {
            var page = await again().ConfigureAwait(false);
            Response.StatusCode = 503;
            Message = "Enrolment is unavailable for a moment; nothing was changed. Try again shortly.";
            return page;
        }

        if (!await links.UseAsync(pending.Code, cancellationToken).ConfigureAwait(false))
        {
            SignInCookies.ClearEnrolment(Response);
            return Invalid(Expired);
        }

        await authenticators.AddAsync([factor, .. records], cancellationToken).ConfigureAwait(false);
        SignInCookies.ClearEnrolment(Response);
        PageSecurity.Apply(Response, null);
        if (!pending.PasswordSetHere)
        {
            // The password was set elsewhere (or before): this browser has not shown it, so it is not signed in.
            SignInNext = true;
        }
        else if (await flow.StartSessionAsync(HttpContext, user.Subject, amr, AuthenticationContext.Aal2, clientId: null).ConfigureAwait(false) is null)
        {
            Message = "Your account is set up, but signing you in is unavailable for a moment. Keep these codes, then sign in.";
            SignInNext = true;
        }

        Step = EnrolStep.Done;
        Username = user.Username;
        Codes = codes;
        return Page();
    }

    /// <summary>The enrolment cookie, its link still live, and its user still active; or nulls.</summary>
    private async Task<(PendingEnrolment? Pending, User? User)> LoadAsync(CancellationToken cancellationToken)
    {
        var pending = cookies.ReadEnrolment(Request);
        if (pending is null)
        {
            return (null, null);
        }

        var link = await links.FindLiveAsync(pending.Code, cancellationToken).ConfigureAwait(false);
        if (link is null || link.Subject != pending.Subject)
        {
            SignInCookies.ClearEnrolment(Response);
            return (null, null);
        }

        var user = await users.FindBySubjectAsync(link.Subject, cancellationToken).ConfigureAwait(false);
        if (user is not { Status: UserStatus.Active })
        {
            SignInCookies.ClearEnrolment(Response);
            return (null, null);
        }

        return (pending, user);
    }

    /// <summary>The next step for the user as they stand.</summary>
    private async Task<IActionResult> ShowAsync(PendingEnrolment pending, User user, CancellationToken cancellationToken)
    {
        if (user.PasswordHash is null)
        {
            return ShowPassword(user);
        }

        var factors = await authenticators.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false);
        if (factors.Count > 0)
        {
            // Already has a second factor (an administrator enrolled it): the link only set the password; sign in with both.
            await links.UseAsync(pending.Code, cancellationToken).ConfigureAwait(false);
            SignInCookies.ClearEnrolment(Response);
            Step = EnrolStep.SignIn;
            Username = user.Username;
            return Page();
        }

        if (pending.TotpId is not null && pending.TotpSeed is not null)
        {
            return await ShowTotpAsync(user, ShownTotp(pending, user)).ConfigureAwait(false);
        }

        var enrolment = totp.Create(user);
        cookies.SetEnrolment(Response, pending with { TotpId = enrolment.Authenticator.Id, TotpSeed = enrolment.Authenticator.ProtectedSecret });
        return await ShowTotpAsync(user, enrolment.Authenticator).ConfigureAwait(false);
    }

    private PageResult ShowPassword(User user)
    {
        Step = EnrolStep.Password;
        Username = user.Username;
        MinimumLength = policy.MinimumLength(hasMfa: options.Value.RequireMfa);
        return Page();
    }

    private async Task<PageResult> ShowTotpAsync(User user, Authenticator shown)
    {
        Passkey = await passkeys.BeginRegistrationAsync(user, HttpContext.RequestAborted).ConfigureAwait(false);
        PageSecurity.Apply(Response, null, passkeyScript: Passkey is not null);
        var enrolment = totp.Reopen(user, shown);
        Step = EnrolStep.Totp;
        Username = user.Username;
        TotpSecret = string.Join(' ', enrolment.Secret.Chunk(4).Select(g => new string(g)));
        using var qr = QRCodeGenerator.GenerateQrCode(enrolment.ProvisioningUri, QRCodeGenerator.ECCLevel.M);
        QrCodeDataUri = "data:image/png;base64," + Convert.ToBase64String(new PngByteQRCode(qr).GetGraphic(6));
        return Page();
    }

    private Authenticator ShownTotp(PendingEnrolment pending, User user) => new()
    {
        Id = pending.TotpId!,
        Subject = user.Subject,
        Kind = AuthenticatorKind.Totp,
        Name = "Authenticator app",
        ProtectedSecret = pending.TotpSeed,
        CreatedAt = time.GetUtcNow(),
    };

    private PageResult Invalid(string message)
    {
        Step = EnrolStep.Invalid;
        Message = message;
        return Page();
    }

    private PageResult Unavailable(Func<PageResult> show)
    {
        Response.StatusCode = 503;
        var page = show();
        Message = "Enrolment is unavailable for a moment; nothing was changed. Try again shortly.";
        return page;
    }
}

/// <summary>Where an enrolment stands.</summary>
internal enum EnrolStep
{
    /// <summary>The link is unknown, spent or expired.</summary>
    Invalid,

    /// <summary>Choose a password.</summary>
    Password,

    /// <summary>Set up an authenticator app.</summary>
    Totp,

    /// <summary>Enrolled and signed in; recovery codes shown once.</summary>
    Done,

    /// <summary>The password is set and a factor already enrolled: sign in.</summary>
    SignIn,
}
