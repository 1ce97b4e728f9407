namespace Safeguard;

/// <summary>The hard limits every part of Safeguard shares; no option can go past them.</summary>
public static class SafeguardLimits
{
    /// <summary>The longest access-token lifetime Safeguard ever issues or accepts: 15 minutes.</summary>
    public static TimeSpan MaximumAccessTokenLifetime { get; } = TimeSpan.FromMinutes(15);

    /// <summary>The largest clock skew any check allows: 60 seconds (IdentityModel's default of 5 minutes is deliberately not used).</summary>
    public static TimeSpan MaximumClockSkew { get; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a replay cache keeps a one-time value after the value would fail its own time checks: 5 minutes, so
    /// clocks that differ between nodes (each judging the time window by its own clock) cannot reopen a replay.
    /// </summary>
    public static TimeSpan ReplayRetentionMargin { get; } = TimeSpan.FromMinutes(5);
}
