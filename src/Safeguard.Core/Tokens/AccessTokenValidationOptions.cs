using Microsoft.Extensions.Options;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>How access tokens are verified. Every default is the strict one; <see cref="AccessTokenValidationOptionsValidator"/> checks them at start-up.</summary>
public sealed record AccessTokenValidationOptions
{
    /// <summary>The largest clock skew allowed: 60 seconds (IdentityModel's default of 5 minutes is deliberately not used).</summary>
    public static TimeSpan MaximumClockSkew => SafeguardLimits.MaximumClockSkew;

    /// <summary>The largest token accepted, in characters: 8 KB (REQUIREMENTS.md, JWT attack regression).</summary>
    public const int MaximumTokenSize = 8192;

    /// <summary>The issuer tokens must carry, compared exactly (ordinal). Required.</summary>
    public string Issuer { get; set; } = string.Empty;

    /// <summary>The audiences this resource server answers to; a token's <c>aud</c> must contain at least one. Required.</summary>
    public IList<string> Audiences { get; init; } = [];

    /// <summary>Clock skew tolerated on <c>exp</c>, <c>nbf</c> and <c>iat</c>. Default 60 seconds; at most 60 seconds.</summary>
    public TimeSpan ClockSkew { get; set; } = MaximumClockSkew;

    /// <summary>The algorithms accepted. Empty (the default) means all of <see cref="SigningAlgorithms.All"/>; a subset narrows it.</summary>
    public IList<string> ValidAlgorithms { get; init; } = [];

    /// <summary>Tokens longer than this many characters are refused before parsing. Default and maximum 8192.</summary>
    public int MaxTokenSize { get; set; } = MaximumTokenSize;

    /// <summary>The longest <c>exp</c> - <c>iat</c> accepted. Default 15 minutes (the longest Safeguard issues); at most that.</summary>
    public TimeSpan MaxTokenLifetime { get; set; } = AccessTokenOptions.MaximumLifetime;

    /// <summary>
    /// Whether tokens whose signature was already verified are remembered (by SHA-256 of the whole token) until
    /// they expire, so a reused token costs a hash instead of a signature check. Lifetime, audience, key state and
    /// revocation are still checked on every use. Default true; set false where policy demands a signature check
    /// per request.
    /// </summary>
    public bool CacheVerifiedTokens { get; set; } = true;

    /// <summary>How many verified tokens the cache holds at most; when full, new tokens are verified but not cached. Default 100,000.</summary>
    public int CacheSize { get; set; } = 100_000;
}

/// <summary>Checks <see cref="AccessTokenValidationOptions"/> and reports every error, each with what to change.</summary>
public sealed class AccessTokenValidationOptionsValidator : IValidateOptions<AccessTokenValidationOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AccessTokenValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!IssuerUris.IsValid(options.Issuer))
        {
            errors.Add($"Safeguard:Validation:Issuer is '{options.Issuer}'; set the absolute https issuer URL tokens carry (no query, no fragment).");
        }

        if (options.Audiences.Count == 0 || options.Audiences.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("Safeguard:Validation:Audiences is empty or has an empty entry; set the resource indicator(s) this service answers to, for example https://api.example.org.");
        }

        if (options.ClockSkew < TimeSpan.Zero || options.ClockSkew > AccessTokenValidationOptions.MaximumClockSkew)
        {
            errors.Add($"Safeguard:Validation:ClockSkew is {options.ClockSkew}; it must be between 00:00:00 and {AccessTokenValidationOptions.MaximumClockSkew}.");
        }

        foreach (var algorithm in options.ValidAlgorithms.Where(a => !SigningAlgorithms.IsSupported(a)))
        {
            errors.Add($"Safeguard:Validation:ValidAlgorithms has '{algorithm}'; only {string.Join(", ", SigningAlgorithms.All)} may be accepted (never none or an HMAC algorithm).");
        }

        if (options.MaxTokenSize is < 1024 or > AccessTokenValidationOptions.MaximumTokenSize)
        {
            errors.Add($"Safeguard:Validation:MaxTokenSize is {options.MaxTokenSize}; it must be between 1024 and {AccessTokenValidationOptions.MaximumTokenSize}.");
        }

        if (options.MaxTokenLifetime <= TimeSpan.Zero || options.MaxTokenLifetime > AccessTokenOptions.MaximumLifetime)
        {
            errors.Add($"Safeguard:Validation:MaxTokenLifetime is {options.MaxTokenLifetime}; it must be positive and at most {AccessTokenOptions.MaximumLifetime}.");
        }

        if (options.CacheSize is < 1 or > 10_000_000)
        {
            errors.Add($"Safeguard:Validation:CacheSize is {options.CacheSize}; it must be between 1 and 10,000,000 (turn caching off with CacheVerifiedTokens=false).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
