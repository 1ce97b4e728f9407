using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;

namespace Safeguard.Gateway;

/// <summary>
/// The gateway's access step, the first step of YARP's proxy pipeline, so no request is forwarded without it. It runs
/// the same token check as <c>AddSafeguardJwt</c> (<see cref="SafeguardTokenCheck"/>: the core validator and its
/// verified-token cache, the revocation feed, DPoP and certificate binding), then the route's requirements straight
/// against the verified token (<see cref="SafeguardRouteRequirements"/>), then the route's audit mode
/// (<see cref="SafeguardResourceAudit.AllowAsync"/>: Durable commits the decision before forwarding, Buffered queues one
/// event with the upstream's status). A refusal is audited with its precise reason and answered generically. It does
/// the work of ASP.NET Core's authentication and authorization middleware without a principal, a handler instance or a
/// policy evaluation per request.
/// </summary>
internal sealed partial class GatewayAccess(
    SafeguardJwtAuthorities authorities, IOptionsMonitor<SafeguardJwtOptions> jwtOptions, SafeguardResourceAudit audit, TimeProvider time, ILogger<GatewayAccess> logger)
{
    private SafeguardJwtAuthorities.Authority? _authority;

    /// <summary>Checks, audits and forwards (or refuses) one request to a proxied route.</summary>
    /// <param name="context">The request.</param>
    /// <param name="next">The rest of the proxy pipeline (forwarding).</param>
    /// <returns>A task that completes when the request is served or refused.</returns>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        // Every proxied route is built with its access (SafeguardGateway.Build); one without it is refused, never forwarded.
        if (context.GetEndpoint()?.Metadata.GetMetadata<GatewayRouteAccess>() is not { } route)
        {
            LogRefused(logger, SafeguardErrorCodes.ResourcePolicyRefused, "a proxied route without its access requirements");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.Headers.CacheControl = "no-store";
            return;
        }

        var authority = _authority ??= authorities.For(SafeguardJwtDefaults.AuthenticationScheme, jwtOptions.Get(SafeguardJwtDefaults.AuthenticationScheme));
        var check = await SafeguardTokenCheck.CheckAsync(context, authority).ConfigureAwait(false);
        if (check.Feature is not { } feature)
        {
            var reason = check.FailureCode ?? SafeguardErrorCodes.TokenMissing;
            LogRefused(logger, reason, check.What ?? "no token");
            if (await audit.DenyAsync(context, reason, StatusCodes.Status401Unauthorized).ConfigureAwait(false))
            {
                SafeguardChallenges.Unauthorized(context.Response, check.FailureCode, check.PresentedAsDpop, authority.Dpop);
            }

            return;
        }

        context.Features.Set(feature);
        if (route.Requirements.Check(feature, time.GetUtcNow()) is { } refusal)
        {
            LogRefused(logger, refusal.Code, "a route requirement");
            if (await audit.DenyAsync(context, refusal.Code, refusal.Status).ConfigureAwait(false))
            {
                route.Requirements.Answer(context.Response, refusal, authority.Dpop);
            }

            return;
        }

        await audit.AllowAsync(next, context, route.Mode).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.GatewayRequestRefused, Level = LogLevel.Debug, Message = "The gateway refused a request ({Code}): {What}.")]
    private static partial void LogRefused(ILogger logger, string code, string what);
}

/// <summary>A proxied route's access: its requirements and audit mode (endpoint metadata, built once from <see cref="GatewayRoute"/>).</summary>
/// <param name="Requirements">Scopes, roles, acr, sign-in age, DPoP.</param>
/// <param name="Mode">How its requests are audited.</param>
internal sealed record GatewayRouteAccess(SafeguardRouteRequirements Requirements, SafeguardAuditMode Mode);
