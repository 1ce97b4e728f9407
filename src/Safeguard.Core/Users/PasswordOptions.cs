using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>
/// Password rules (NIST SP 800-63B) and how passwords are hashed (Argon2id), bound from <c>Safeguard:Passwords</c>.
/// There are deliberately no composition rules and no expiry: SP 800-63B forbids both.
/// </summary>
public sealed record PasswordOptions
{
    /// <summary>The shortest password, in Unicode code points, for a user whose password is the only factor. Default 15 (SP 800-63B rev 4); at least 15.</summary>
    public int MinimumLength { get; set; } = 15;

    /// <summary>The shortest password for a user with a second factor enrolled. Default 8; at least 8.</summary>
    public int MinimumLengthWithMfa { get; set; } = 8;

    /// <summary>The longest password accepted (longer ones are refused, never truncated). Default 256; at least 64.</summary>
    public int MaximumLength { get; set; } = 256;

    /// <summary>Argon2id memory in KiB. Default 19456 (19 MiB, OWASP's first recommended setting).</summary>
    public int HashMemoryKib { get; set; } = 19456;

    /// <summary>Argon2id passes. Default 2.</summary>
    public int HashIterations { get; set; } = 2;

    /// <summary>
    /// How many passwords may be hashed at once on this node; others wait. Bounds memory at
    /// <see cref="HashMemoryKib"/> times this. Default the processor count (at least 2).
    /// </summary>
    public int MaxConcurrentHashes { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>How long a sign-in waits for a free hashing slot before it is told to try again. Default 5 seconds.</summary>
    public TimeSpan HashQueueTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The Argon2id cost this configuration asks for.</summary>
    internal Argon2idCost Cost => new(HashMemoryKib, HashIterations, 1);
}

/// <summary>Checks <see cref="PasswordOptions"/>.</summary>
public sealed class PasswordOptionsValidator : IValidateOptions<PasswordOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PasswordOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.MinimumLength is < 15 or > 64)
        {
            errors.Add($"Safeguard:Passwords:MinimumLength is {options.MinimumLength}; set 15 to 64 (NIST SP 800-63B: at least 15 when the password is the only factor).");
        }

        if (options.MinimumLengthWithMfa < 8 || options.MinimumLengthWithMfa > options.MinimumLength)
        {
            errors.Add($"Safeguard:Passwords:MinimumLengthWithMfa is {options.MinimumLengthWithMfa}; set 8 up to MinimumLength (NIST SP 800-63B: at least 8).");
        }

        if (options.MaximumLength is < 64 or > 1024)
        {
            errors.Add($"Safeguard:Passwords:MaximumLength is {options.MaximumLength}; set 64 to 1024 (NIST SP 800-63B: at least 64 must be allowed).");
        }

        if (options.HashMemoryKib is < Argon2idCost.MinimumMemoryKib or > Argon2idCost.MaximumMemoryKib)
        {
            errors.Add($"Safeguard:Passwords:HashMemoryKib is {options.HashMemoryKib}; set {Argon2idCost.MinimumMemoryKib} to {Argon2idCost.MaximumMemoryKib}.");
        }

        if (options.HashIterations is < 1 or > Argon2idCost.MaximumIterations)
        {
            errors.Add($"Safeguard:Passwords:HashIterations is {options.HashIterations}; set 1 to {Argon2idCost.MaximumIterations}.");
        }
        else if (!options.Cost.MeetsOwaspFloor)
        {
            errors.Add($"Safeguard:Passwords:HashMemoryKib x HashIterations is {(long)options.HashMemoryKib * options.HashIterations}; OWASP's settings need at least {Argon2idCost.OwaspFloor} (for example 19456 KiB x 2, 12288 x 3, 9216 x 4, 7168 x 5).");
        }

        if (options.MaxConcurrentHashes is < 1 or > 256)
        {
            errors.Add($"Safeguard:Passwords:MaxConcurrentHashes is {options.MaxConcurrentHashes}; set 1 to 256 (memory used is HashMemoryKib times this).");
        }

        if (options.HashQueueTimeout <= TimeSpan.Zero || options.HashQueueTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add($"Safeguard:Passwords:HashQueueTimeout is {options.HashQueueTimeout}; set a value above zero and at most 00:01:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
