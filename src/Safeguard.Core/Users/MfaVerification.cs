namespace Safeguard.Users;

/// <summary>The outcome of checking a second factor.</summary>
public enum MfaOutcome
{
    /// <summary>The code was right and had not been used: the factor is verified.</summary>
    Accepted,

    /// <summary>The code was wrong (or malformed).</summary>
    Invalid,

    /// <summary>The code was right but already used (TOTP: this time step or a later one was accepted before).</summary>
    Replayed,

    /// <summary>The user has no such factor.</summary>
    NotEnrolled,

    /// <summary>The factor reached the limit of consecutive failures (NIST SP 800-63B: at most 100) and is refused until an administrator resets it.</summary>
    Disabled,
}

/// <summary>The result of checking a second factor.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="AuthenticatorId">The factor that accepted or was tried, if any.</param>
/// <param name="Failures">Consecutive failures after this attempt.</param>
public readonly record struct MfaVerification(MfaOutcome Outcome, string? AuthenticatorId, int Failures)
{
    /// <summary>The most consecutive failures one factor may have (NIST SP 800-63B section 5.2.2).</summary>
    public const int MaxConsecutiveFailures = 100;

    /// <summary>Whether the factor is verified.</summary>
    public bool Succeeded => Outcome == MfaOutcome.Accepted;
}
