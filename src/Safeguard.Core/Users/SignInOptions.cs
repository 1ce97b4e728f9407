using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>How failed sign-ins are throttled and watched, bound from <c>Safeguard:SignIn</c>.</summary>
public sealed record SignInOptions
{
    /// <summary>Consecutive failures an account may have before back-off starts. Default 5.</summary>
    public int FreeFailures { get; set; } = 5;

    /// <summary>
    /// The longest wait the exponential back-off imposes (1 s after the first failure past <see cref="FreeFailures"/>,
    /// then 2, 4, 8 ... s). Default 15 minutes.
    /// </summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Consecutive failures after which the account is locked until an administrator unlocks it. Default 100 (NIST SP 800-63B's limit); at most 100.</summary>
    public int LockAfterFailures { get; set; } = 100;

    /// <summary>Failed sign-ins one source address (IPv6 by /64) may have within <see cref="SourceWindow"/>; then its attempts are refused unchecked. Default 20.</summary>
    public int SourceFailureLimit { get; set; } = 20;

    /// <summary>The window of <see cref="SourceFailureLimit"/>. Default 5 minutes.</summary>
    public TimeSpan SourceWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Failed sign-ins on this node within <see cref="AlertWindow"/>, across at least <see cref="AlertDistinctAccounts"/> usernames, that raise a log-in monitoring alert. Default 50.</summary>
    public int AlertFailures { get; set; } = 50;

    /// <summary>Distinct usernames the failures of an alert must span (a spraying attack, not one person mistyping). Default 10.</summary>
    public int AlertDistinctAccounts { get; set; } = 10;

    /// <summary>The window of the alert; at most one alert is raised per window. Default 5 minutes.</summary>
    public TimeSpan AlertWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Whether a sign-in must use a second factor (NIST SP 800-63B AAL2, what reaching PHI needs). Default true: a
    /// user without one cannot finish signing in until an administrator enrols one. False allows password-only
    /// sign-ins at AAL1 (their tokens say so in <c>acr</c>).
    /// </summary>
    public bool RequireMfa { get; set; } = true;

    /// <summary>
    /// Roles whose holders must sign in with a second factor even where <see cref="RequireMfa"/> is false (the roles
    /// that reach PHI). Unset (the default) means every role: only a user with no role at all may sign in with a
    /// password alone, and only when <see cref="RequireMfa"/> is false.
    /// </summary>
#pragma warning disable CA1819 // Bound from configuration, which replaces an unset array whole.
    public string[]? MfaRoles { get; set; }
#pragma warning restore CA1819

    /// <summary>Whether <paramref name="user"/> must use a second factor.</summary>
    /// <param name="user">The user.</param>
    /// <returns>True where <see cref="RequireMfa"/> is set or the user holds a role in <see cref="MfaRoles"/>.</returns>
    public bool MfaRequiredFor(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (RequireMfa)
        {
            return true;
        }

        if (MfaRoles is null)
        {
            return user.Roles.Count > 0;
        }

        // Compared as normalised roles, as the validator reads them ("clinician,nurse" is two roles).
        return Usernames.TryNormalizeRoles(MfaRoles, out var roles, out _) ? user.Roles.Any(role => roles.Contains(role, StringComparer.Ordinal)) : user.Roles.Count > 0;
    }

    /// <summary>How long an enrolment link works (<see cref="EnrolmentLinks"/>). Default 24 hours; 5 minutes to 7 days.</summary>
    public TimeSpan EnrolmentLinkLifetime { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>Checks <see cref="SignInOptions"/>.</summary>
public sealed class SignInOptionsValidator : IValidateOptions<SignInOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SignInOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.MfaRoles is { } roles && !Usernames.TryNormalizeRoles(roles, out _, out var roleError))
        {
            errors.Add($"Safeguard:SignIn:MfaRoles: {roleError}");
        }

        if (options.FreeFailures is < 1 or > 20)
        {
            errors.Add($"Safeguard:SignIn:FreeFailures is {options.FreeFailures}; set 1 to 20.");
        }

        if (options.MaxBackoff < TimeSpan.FromSeconds(1) || options.MaxBackoff > TimeSpan.FromHours(1))
        {
            errors.Add($"Safeguard:SignIn:MaxBackoff is {options.MaxBackoff}; set 00:00:01 to 01:00:00.");
        }

        if (options.LockAfterFailures < options.FreeFailures || options.LockAfterFailures > 100)
        {
            errors.Add($"Safeguard:SignIn:LockAfterFailures is {options.LockAfterFailures}; set FreeFailures up to 100 (NIST SP 800-63B: at most 100 consecutive failures).");
        }

        if (options.SourceFailureLimit is < 1 or > 10_000)
        {
            errors.Add($"Safeguard:SignIn:SourceFailureLimit is {options.SourceFailureLimit}; set 1 to 10000.");
        }

        if (options.SourceWindow < TimeSpan.FromSeconds(10) || options.SourceWindow > TimeSpan.FromHours(24))
        {
            errors.Add($"Safeguard:SignIn:SourceWindow is {options.SourceWindow}; set 00:00:10 to 1.00:00:00.");
        }

        if (options.EnrolmentLinkLifetime < TimeSpan.FromMinutes(5) || options.EnrolmentLinkLifetime > TimeSpan.FromDays(7))
        {
            errors.Add($"Safeguard:SignIn:EnrolmentLinkLifetime is {options.EnrolmentLinkLifetime}; set 00:05:00 to 7.00:00:00.");
        }

        if (options.AlertFailures is < 1 or > 1_000_000)
        {
            errors.Add($"Safeguard:SignIn:AlertFailures is {options.AlertFailures}; set 1 to 1000000.");
        }

        if (options.AlertDistinctAccounts < 1 || options.AlertDistinctAccounts > options.AlertFailures)
        {
            errors.Add($"Safeguard:SignIn:AlertDistinctAccounts is {options.AlertDistinctAccounts}; set 1 up to AlertFailures.");
        }

        if (options.AlertWindow < TimeSpan.FromSeconds(10) || options.AlertWindow > TimeSpan.FromHours(24))
        {
            errors.Add($"Safeguard:SignIn:AlertWindow is {options.AlertWindow}; set 00:00:10 to 1.00:00:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
