using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>Second factors, bound from <c>Safeguard:Mfa</c>.</summary>
public sealed record MfaOptions
{
    /// <summary>The issuer name authenticator apps show beside the account (the <c>otpauth://</c> label). Default "Safeguard".</summary>
    public string TotpIssuer { get; set; } = "Safeguard";

    /// <summary>
    /// How many 30-second steps either side of now a TOTP code is accepted for (clock drift of the phone). Default 1
    /// (RFC 6238's network-delay allowance); at most 2.
    /// </summary>
    public int TotpDriftSteps { get; set; } = 1;
}

/// <summary>Checks <see cref="MfaOptions"/>.</summary>
public sealed class MfaOptionsValidator : IValidateOptions<MfaOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MfaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.TotpIssuer) || options.TotpIssuer.Length > 64 || options.TotpIssuer.Contains(':', StringComparison.Ordinal) || options.TotpIssuer.Any(char.IsControl))
        {
            errors.Add($"Safeguard:Mfa:TotpIssuer is '{options.TotpIssuer}'; set 1 to 64 characters without ':' (authenticator apps show it).");
        }

        if (options.TotpDriftSteps is < 0 or > 2)
        {
            errors.Add($"Safeguard:Mfa:TotpDriftSteps is {options.TotpDriftSteps}; set 0 to 2 (each step is 30 seconds either side of now).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
