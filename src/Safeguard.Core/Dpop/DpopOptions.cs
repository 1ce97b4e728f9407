using Microsoft.Extensions.Options;
using Safeguard.Keys;

namespace Safeguard.Dpop;

/// <summary>How DPoP proofs (RFC 9449) are checked.</summary>
public sealed record DpopOptions
{
    /// <summary>
    /// The algorithms a proof may be signed with: a subset of ES256, ES384, PS256, RS256 (asymmetric only). Empty (the
    /// default) means all four.
    /// </summary>
    public IList<string> Algorithms { get; init; } = [];

    /// <summary>How old a proof's <c>iat</c> may be. Default 60 seconds; at most 5 minutes.</summary>
    public TimeSpan ProofMaxAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How far a proof's <c>iat</c> may lie in the future (client clock skew). Default 10 seconds; at most 60.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether every proof must carry a server nonce (RFC 9449 section 8). Default true.</summary>
    public bool RequireNonce { get; set; } = true;

    /// <summary>How long one server nonce is current; it is accepted for one more step after. Default 5 minutes.</summary>
    public TimeSpan NonceStep { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest proof accepted, in characters. Default 4096.</summary>
    public int MaxProofSize { get; set; } = 4096;
}

/// <summary>Checks <see cref="DpopOptions"/>.</summary>
public sealed class DpopOptionsValidator : IValidateOptions<DpopOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DpopOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Algorithms.Any(a => !SigningAlgorithms.IsSupported(a)))
        {
            errors.Add($"Safeguard:Dpop:Algorithms is [{string.Join(", ", options.Algorithms)}]; use a subset of {string.Join(", ", SigningAlgorithms.All)} (empty for all of them).");
        }

        if (options.ProofMaxAge <= TimeSpan.Zero || options.ProofMaxAge > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Safeguard:Dpop:ProofMaxAge is {options.ProofMaxAge}; set a value above zero and at most 00:05:00.");
        }

        if (options.ClockSkew < TimeSpan.Zero || options.ClockSkew > TimeSpan.FromSeconds(60))
        {
            errors.Add($"Safeguard:Dpop:ClockSkew is {options.ClockSkew}; set a value from 00:00:00 to 00:01:00.");
        }

        if (options.NonceStep < TimeSpan.FromSeconds(10) || options.NonceStep > TimeSpan.FromHours(1))
        {
            errors.Add($"Safeguard:Dpop:NonceStep is {options.NonceStep}; set a value from 00:00:10 to 01:00:00.");
        }

        if (options.MaxProofSize is < 512 or > 4096)
        {
            errors.Add($"Safeguard:Dpop:MaxProofSize is {options.MaxProofSize}; set a value from 512 to 4096 (the proof policy's limit).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
