using Microsoft.Extensions.Options;

namespace Safeguard.Keys;

/// <summary>How the signing key ring rotates keys. Every default is the secure one; <see cref="KeyRingOptionsValidator"/> checks them at start-up.</summary>
public sealed record KeyRingOptions
{
    /// <summary>The algorithm new keys are bound to. Default <c>ES256</c>; also <c>ES384</c>, <c>PS256</c>, <c>RS256</c>.</summary>
    public string Algorithm { get; set; } = SigningAlgorithms.ES256;

    /// <summary>How long a key signs before its successor takes over. Default 30 days; at most 365 days.</summary>
    public TimeSpan RotationInterval { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a new key is published (pending) before it signs, so every verifier's JWKS cache has it first.
    /// Default 1 hour; at least 1 minute, and shorter than <see cref="RotationInterval"/>.
    /// </summary>
    public TimeSpan PropagationTime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a retired key stays published and verifying. Default 20 minutes: the longest access-token lifetime
    /// Safeguard allows (15 minutes) plus 5. At least that longest lifetime plus the largest clock skew (16 minutes).
    /// </summary>
    public TimeSpan RetentionDuration { get; set; } = DefaultRetention;

    /// <summary>The modulus size of new RSA keys (PS256, RS256), in bits. Default 3072; at least 2048.</summary>
    public int RsaKeySize { get; set; } = 3072;

    /// <summary>The default <see cref="RetentionDuration"/>: <see cref="SafeguardLimits.MaximumAccessTokenLifetime"/> plus 5 minutes.</summary>
    public static TimeSpan DefaultRetention { get; } = SafeguardLimits.MaximumAccessTokenLifetime + TimeSpan.FromMinutes(5);
}

/// <summary>Checks <see cref="KeyRingOptions"/> and reports every error, each with what to change.</summary>
public sealed class KeyRingOptionsValidator : IValidateOptions<KeyRingOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, KeyRingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!SigningAlgorithms.IsSupported(options.Algorithm))
        {
            errors.Add($"Safeguard:Keys:Algorithm is '{options.Algorithm}'; use one of {string.Join(", ", SigningAlgorithms.All)} (none and HMAC algorithms are never allowed).");
        }

        if (options.PropagationTime < TimeSpan.FromMinutes(1))
        {
            errors.Add($"Safeguard:Keys:PropagationTime is {options.PropagationTime}; it must be at least 00:01:00 so verifiers learn a key before it signs.");
        }

        if (options.RotationInterval <= options.PropagationTime)
        {
            errors.Add($"Safeguard:Keys:RotationInterval ({options.RotationInterval}) must be longer than PropagationTime ({options.PropagationTime}).");
        }

        if (options.RotationInterval > TimeSpan.FromDays(365))
        {
            errors.Add($"Safeguard:Keys:RotationInterval is {options.RotationInterval}; keys must rotate at least once a year (365.00:00:00).");
        }

        var minimumRetention = SafeguardLimits.MaximumAccessTokenLifetime + SafeguardLimits.MaximumClockSkew;
        if (options.RetentionDuration < minimumRetention)
        {
            errors.Add($"Safeguard:Keys:RetentionDuration is {options.RetentionDuration}; it must be at least {minimumRetention} (the longest token lifetime plus clock skew), or tokens would stop verifying before they expire.");
        }

        if (options.RsaKeySize < SigningAlgorithms.MinimumRsaKeySize || options.RsaKeySize % 8 != 0)
        {
            errors.Add($"Safeguard:Keys:RsaKeySize is {options.RsaKeySize}; use a multiple of 8 of at least {SigningAlgorithms.MinimumRsaKeySize} (3072 recommended).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
