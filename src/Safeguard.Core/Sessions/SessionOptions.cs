using Microsoft.Extensions.Options;

namespace Safeguard.Sessions;

/// <summary>Automatic logoff (164.312(a)(2)(iii); NIST SP 800-63B section 4.2.3), bound from <c>Safeguard:Sessions</c>.</summary>
public sealed record SessionOptions
{
    /// <summary>A session with no activity for this long ends. Default 15 minutes; 1 to 30 minutes (SP 800-63B AAL2).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A session ends this long after sign-in whatever the activity. Default 12 hours; at most 12 hours (SP 800-63B AAL2).</summary>
    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromHours(12);
}

/// <summary>Checks <see cref="SessionOptions"/>.</summary>
public sealed class SessionOptionsValidator : IValidateOptions<SessionOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.IdleTimeout < TimeSpan.FromMinutes(1) || options.IdleTimeout > TimeSpan.FromMinutes(30))
        {
            errors.Add($"Safeguard:Sessions:IdleTimeout is {options.IdleTimeout}; set 00:01:00 to 00:30:00 (NIST SP 800-63B: at most 30 minutes of inactivity at AAL2).");
        }

        if (options.AbsoluteLifetime < TimeSpan.FromMinutes(5) || options.AbsoluteLifetime > TimeSpan.FromHours(12))
        {
            errors.Add($"Safeguard:Sessions:AbsoluteLifetime is {options.AbsoluteLifetime}; set 00:05:00 to 12:00:00 (NIST SP 800-63B: reauthentication at least every 12 hours).");
        }
        else if (options.AbsoluteLifetime < options.IdleTimeout)
        {
            errors.Add($"Safeguard:Sessions:AbsoluteLifetime ({options.AbsoluteLifetime}) is shorter than IdleTimeout ({options.IdleTimeout}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
