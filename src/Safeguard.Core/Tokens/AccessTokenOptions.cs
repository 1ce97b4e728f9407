using Microsoft.Extensions.Options;

namespace Safeguard.Tokens;

/// <summary>How access tokens are issued. Checked at start-up by <see cref="AccessTokenOptionsValidator"/>.</summary>
public sealed record AccessTokenOptions
{
    /// <summary>The longest lifetime Safeguard ever issues: 15 minutes. A longer <see cref="Lifetime"/> stops start-up.</summary>
    public static TimeSpan MaximumLifetime => SafeguardLimits.MaximumAccessTokenLifetime;

    /// <summary>The issuer identifier (<c>iss</c>): an absolute https URL without query or fragment. Required.</summary>
    public string Issuer { get; set; } = string.Empty;

    /// <summary>How long an access token lives. Default 5 minutes; at most <see cref="MaximumLifetime"/>.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Claim names a deployment deliberately allows beyond the standard set (<see cref="AccessTokenClaims.Standard"/>).
    /// Empty by default. Each name is exact (no wildcard) and must not be a standard claim; document why each one
    /// carries no PHI. A claim not on either list is refused at issuance with SG2001.
    /// </summary>
    public IList<string> AdditionalAllowedClaims { get; init; } = [];
}

/// <summary>Checks <see cref="AccessTokenOptions"/> and reports every error, each with what to change.</summary>
public sealed class AccessTokenOptionsValidator : IValidateOptions<AccessTokenOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AccessTokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!IssuerUris.IsValid(options.Issuer))
        {
            errors.Add($"Safeguard:Tokens:Issuer is '{options.Issuer}'; set it to the absolute https URL clients use (no query, no fragment), for example https://auth.example.org.");
        }

        if (options.Lifetime <= TimeSpan.Zero || options.Lifetime > AccessTokenOptions.MaximumLifetime)
        {
            errors.Add($"Safeguard:Tokens:Lifetime is {options.Lifetime}; an access token may live at most {AccessTokenOptions.MaximumLifetime} (default 00:05:00). Use refresh tokens for longer sessions.");
        }

        foreach (var claim in options.AdditionalAllowedClaims)
        {
            if (string.IsNullOrWhiteSpace(claim) || claim.Contains('*', StringComparison.Ordinal) || claim.Trim() != claim)
            {
                errors.Add($"Safeguard:Tokens:AdditionalAllowedClaims has '{claim}'; each entry must be one exact claim name, never a wildcard.");
            }
            else if (AccessTokenClaims.Standard.Contains(claim))
            {
                errors.Add($"Safeguard:Tokens:AdditionalAllowedClaims has '{claim}', a claim Safeguard sets itself; remove it.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The rule for issuer identifiers (RFC 8414 section 2).</summary>
internal static class IssuerUris
{
    public static bool IsValid(string? issuer) =>
        Uri.TryCreate(issuer, UriKind.Absolute, out var uri)
        && uri.Scheme == Uri.UriSchemeHttps
        && string.IsNullOrEmpty(uri.Query)
        && string.IsNullOrEmpty(uri.Fragment)
        && string.IsNullOrEmpty(uri.UserInfo);
}
