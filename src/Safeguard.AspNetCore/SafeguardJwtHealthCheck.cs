using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary>
/// Unhealthy while a Safeguard JWT scheme cannot follow its authority's revocation feed past the outage bound (its
/// tokens issued before the outage are then being refused); healthy otherwise.
/// </summary>
public sealed class SafeguardJwtHealthCheck(SafeguardJwtAuthorities authorities) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (current, stale) = authorities.RevocationFeedsCurrent();
        return Task.FromResult(current ? HealthCheckResult.Healthy("revocation feeds current") : HealthCheckResult.Unhealthy(stale));
    }
}

/// <summary>Adds <see cref="SafeguardJwtHealthCheck"/>.</summary>
public static class SafeguardJwtHealthCheckExtensions
{
    /// <summary>Adds the Safeguard JWT health check (the revocation feed's state) as <c>safeguard-jwt</c>.</summary>
    /// <param name="builder">The health checks.</param>
    /// <param name="tags">Tags, such as <c>ready</c>.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddSafeguardJwt(this IHealthChecksBuilder builder, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<SafeguardJwtHealthCheck>("safeguard-jwt", HealthStatus.Unhealthy, tags);
    }
}

/// <summary>The name of one Safeguard JWT scheme (so its authority is prepared at start).</summary>
/// <param name="Name">The scheme.</param>
internal sealed record SafeguardJwtScheme(string Name);

/// <summary>Prepares each scheme's authority when the host starts, so the revocation feed is followed from then on.</summary>
internal sealed class SafeguardJwtStartup(SafeguardJwtAuthorities authorities, IEnumerable<SafeguardJwtScheme> schemes, IOptionsMonitor<SafeguardJwtOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        authorities.Prepare(schemes.Select(s => (s.Name, options.Get(s.Name))));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
