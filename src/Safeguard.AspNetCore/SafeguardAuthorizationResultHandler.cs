using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary>
/// Writes the audit event of every request to a protected endpoint, allowed or denied, where ASP.NET Core's
/// authorization middleware has decided. Allowed, <see cref="SafeguardAuditMode.Durable"/>: the endpoint runs only once
/// the decision is committed, and a small follow-up event (Buffered) records its status and duration. Allowed,
/// <see cref="SafeguardAuditMode.Buffered"/>: the endpoint runs at once and one event with its status and duration is
/// queued when it ends. Denied: the event carries the precise reason (an <c>SGxxxx</c> code) and the answer stays
/// generic. Whenever the trail cannot take the event the answer is 503 and the endpoint is not reached.
/// </summary>
public sealed partial class SafeguardAuthorizationResultHandler(
    SafeguardResourceAudit audit, IOptions<SafeguardAuditOptions> options, ILogger<SafeguardAuthorizationResultHandler> logger)
    : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    /// <inheritdoc />
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(authorizeResult);
        if (authorizeResult.Succeeded)
        {
            await AllowAsync(next, context).ConfigureAwait(false);
            return;
        }

        if (authorizeResult.Challenged)
        {
            var reason = context.Items.TryGetValue(SafeguardResourceAccess.FailureKey, out var code) ? code as string : SafeguardErrorCodes.TokenMissing;
            if (await DenyAsync(context, reason, 401).ConfigureAwait(false))
            {
                await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
            }

            return;
        }

        var failed = authorizeResult.AuthorizationFailure?.FailedRequirements.ToList() ?? [];
        var stepUp = failed.OfType<SafeguardAcrRequirement>().FirstOrDefault() as SafeguardRequirement ?? failed.OfType<SafeguardMaxAgeRequirement>().FirstOrDefault();
        var first = failed.OfType<SafeguardDpopRequirement>().FirstOrDefault() ?? stepUp ?? failed.OfType<SafeguardRequirement>().FirstOrDefault();
        var refusal = first?.ErrorCode ?? failed.Select(ReasonOf).FirstOrDefault() ?? SafeguardErrorCodes.ResourcePolicyRefused;
        LogForbidden(logger, refusal, first?.GetType().Name ?? failed.FirstOrDefault()?.GetType().Name ?? "policy");
        if (!await DenyAsync(context, refusal, stepUp is null && first is not SafeguardDpopRequirement ? 403 : 401).ConfigureAwait(false))
        {
            return;
        }

        if (stepUp is not null && first is not SafeguardDpopRequirement)
        {
            StepUp(context, failed);
            return;
        }

        if (first is SafeguardDpopRequirement)
        {
            // RFC 9449 section 7.1: the route needs a DPoP-bound token; the challenge says so.
            context.Items[SafeguardResourceAccess.FailureKey] = SafeguardErrorCodes.DpopRequired;
            foreach (var scheme in policy.AuthenticationSchemes.DefaultIfEmpty(null))
            {
                await (scheme is null ? context.ChallengeAsync() : context.ChallengeAsync(scheme)).ConfigureAwait(false);
            }

            return;
        }

        var properties = new AuthenticationProperties();
        if (failed.OfType<SafeguardScopeRequirement>().FirstOrDefault() is { } scopes)
        {
            properties.Items[SafeguardJwtHandler.ScopeItem] = string.Join(' ', scopes.Scopes);
        }

        if (policy.AuthenticationSchemes.Count > 0)
        {
            foreach (var scheme in policy.AuthenticationSchemes)
            {
                await context.ForbidAsync(scheme, properties).ConfigureAwait(false);
            }
        }
        else
        {
            await context.ForbidAsync(properties).ConfigureAwait(false);
        }
    }

    private Task AllowAsync(RequestDelegate next, HttpContext context) =>
        audit.AllowAsync(next, context, context.GetEndpoint()?.Metadata.GetMetadata<SafeguardAuditAttribute>()?.Mode ?? options.Value.DefaultMode);

    private ValueTask<bool> DenyAsync(HttpContext context, string? reason, int status) => audit.DenyAsync(context, reason, status);

    /// <summary>RFC 9470: 401 <c>insufficient_user_authentication</c>, naming the <c>acr_values</c> and <c>max_age</c> that would do.</summary>
    private static void StepUp(HttpContext context, List<IAuthorizationRequirement> failed) =>
        SafeguardChallenges.StepUp(
            context.Response, failed.OfType<SafeguardAcrRequirement>().FirstOrDefault()?.AcrValues, failed.OfType<SafeguardMaxAgeRequirement>().FirstOrDefault()?.MaxAge);

    private static string? ReasonOf(IAuthorizationRequirement requirement) => requirement switch
    {
        ClaimsAuthorizationRequirement { ClaimType: "scope" } => SafeguardErrorCodes.ResourceScopeMissing,
        RolesAuthorizationRequirement => SafeguardErrorCodes.ResourceRoleMissing,
        _ => null,
    };

    [LoggerMessage(EventId = LogEvents.ResourceRequestForbidden, Level = LogLevel.Debug, Message = "A protected request was refused by {Requirement} ({Code}).")]
    private static partial void LogForbidden(ILogger logger, string code, string requirement);
}
