using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.Configuration;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Hosting;

/// <summary>
/// ASP.NET Core's rate limiter, first in the pipeline: a token bucket per source (an IPv4 address, or an IPv6 /64,
/// since one host holds a whole /64) chained with one for the node (<see cref="RateLimitOptions"/>). It covers every
/// request on the public and plain-http endpoints except <c>/healthz</c>; the management endpoint is not limited. A
/// request over a limit is answered 429 with <c>Retry-After</c> before its body is read, and audited as
/// <c>transport.refused</c> (<c>SG3209</c>), repeats from one source summarised with a count.
/// </summary>
internal static class ServerRateLimits
{
    public static IServiceCollection AddSafeguardRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<ServerOptions>>((limiter, server) =>
        {
            limiter.GlobalLimiter = Create(server.Value.RateLimits);
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = RejectAsync;
        });
        return services;
    }

    private static PartitionedRateLimiter<HttpContext> Create(RateLimitOptions rates)
    {
        var limiters = new List<PartitionedRateLimiter<HttpContext>>(2);
        if (rates.PerAddressPerSecond > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context => Exempt(context)
                ? RateLimitPartition.GetNoLimiter(string.Empty)
                : RateLimitPartition.GetTokenBucketLimiter(SourceAddress.Of(context.Connection.RemoteIpAddress), _ => Bucket(rates.PerAddressPerSecond, rates.PerAddressBurst))));
        }

        if (rates.GlobalPerSecond > 0)
        {
            limiters.Add(PartitionedRateLimiter.Create<HttpContext, string>(context => Exempt(context)
                ? RateLimitPartition.GetNoLimiter(string.Empty)
                : RateLimitPartition.GetTokenBucketLimiter("node", _ => Bucket(rates.GlobalPerSecond, rates.GlobalBurst))));
        }

        return limiters.Count switch
        {
            0 => PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetNoLimiter(string.Empty)),
            1 => limiters[0],
            _ => PartitionedRateLimiter.CreateChained([.. limiters]),
        };
    }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, int burst) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    /// <summary>Load balancers' liveness probes and the management endpoint are never limited.</summary>
    private static bool Exempt(HttpContext context) =>
        ServerPipeline.IsManagementConnection(context) || context.Request.Path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase);

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retry = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
        context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        context.RequestServices.GetRequiredService<ServerMetrics>().RateLimited();
        await context.RequestServices.GetRequiredService<ServerAudit>().RefuseUnauthenticatedAsync(
            context, AuditEventType.TransportRefused, AuditAction.Execute, StatusCodes.Status429TooManyRequests, OAuthResponses.TemporarilyUnavailable,
            $"Too many requests from this address; retry after {retry} s.", SafeguardErrorCodes.RateLimited, null).ConfigureAwait(false);
    }
}
