using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Safeguard.Audit;

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
    SafeguardResourceAudit audit, IOptions<SafeguardAuditOptions> options, TimeProvider time, ILogger<SafeguardAuthorizationResultHandler> logger)
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

    private async Task AllowAsync(RequestDelegate next, HttpContext context)
    {
        var mode = context.GetEndpoint()?.Metadata.GetMetadata<SafeguardAuditAttribute>()?.Mode ?? options.Value.DefaultMode;
        var decision = SafeguardResourceAccess.Create(context, AuditEventType.PhiAccessAllowed, AuditOutcome.Success, null, null, audit.Chain, time.GetUtcNow());
        if (mode == SafeguardAuditMode.Durable)
        {
            // Should the decision be committed after the wait gave up, a completion after it says the request was refused.
            var outcome = await audit.RecordDurableAsync(
                decision, () => Completion(decision, 503, 0) with { Reason = SafeguardErrorCodes.AuditStoreUnavailable }, context.RequestAborted).ConfigureAwait(false);
            if (outcome != SafeguardResourceAudit.DurableOutcome.Committed)
            {
                await UnavailableAsync(context).ConfigureAwait(false);
                return;
            }
        }
        else if (!audit.CanTakeBuffered)
        {
            await UnavailableAsync(context).ConfigureAwait(false);
            return;
        }

        var started = time.GetTimestamp();
        var status = 500;
        try
        {
            await next(context).ConfigureAwait(false);
            status = context.Response.StatusCode;
        }
        finally
        {
            var duration = (long)time.GetElapsedTime(started).TotalMilliseconds;
            var completion = mode == SafeguardAuditMode.Durable
                ? Completion(decision, status, duration)
                : decision with { HttpStatus = status, DurationMs = duration };
            if (!audit.RecordBuffered(completion))
            {
                audit.CountLost();
                LogCompletionLost(logger, mode, status);
            }
        }
    }

    /// <summary>The small follow-up of a Durable decision: the decision it completes (its correlation id) holds who and what.</summary>
    private AuditEvent Completion(AuditEvent decision, int status, long duration)
    {
        var now = time.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.PhiAccessCompleted,
            Outcome = status < 400 ? AuditOutcome.Success : AuditOutcome.Error,
            NodeId = decision.NodeId,
            CorrelationId = decision.EventId,
            HttpStatus = status,
            DurationMs = duration,
        };
    }

    /// <summary>Records a refusal; false (after answering 503) when the trail cannot take it.</summary>
    private async Task<bool> DenyAsync(HttpContext context, string? reason, int status)
    {
        var denied = SafeguardResourceAccess.Create(context, AuditEventType.PhiAccessDenied, AuditOutcome.Denied, reason, status, audit.Chain, time.GetUtcNow());

        // Without a verified token anyone can send these: the first of a kind (source, reason code) in a window is an
        // event of its own, never in the last quarter of the queue; the rest are counted into one summary. The request
        // is refused either way.
        if (context.Features.Get<SafeguardTokenFeature>() is null)
        {
            audit.Refusals.Record(denied, ReasonCode(reason));
            return true;
        }

        if (audit.RecordBuffered(denied))
        {
            return true;
        }

        await UnavailableAsync(context).ConfigureAwait(false);
        return false;
    }

    /// <summary>The SGxxxx code a reason starts with, or the whole reason.</summary>
    private static string ReasonCode(string? reason) =>
        reason is null ? string.Empty : reason.IndexOf(' ', StringComparison.Ordinal) is > 0 and var space ? reason[..space] : reason;

    /// <summary>RFC 9470: 401 <c>insufficient_user_authentication</c>, naming the <c>acr_values</c> and <c>max_age</c> that would do.</summary>
    private static void StepUp(HttpContext context, List<IAuthorizationRequirement> failed)
    {
        var header = "Bearer realm=\"safeguard\", error=\"insufficient_user_authentication\", error_description=\"A more recent or stronger sign-in is required\"";
        if (failed.OfType<SafeguardAcrRequirement>().FirstOrDefault() is { } acr)
        {
            header += ", acr_values=\"" + string.Join(' ', acr.AcrValues) + "\"";
        }

        if (failed.OfType<SafeguardMaxAgeRequirement>().FirstOrDefault() is { } age)
        {
            header += ", max_age=" + ((long)age.MaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = header;
        context.Response.Headers.CacheControl = "no-store";
    }

    private static string? ReasonOf(IAuthorizationRequirement requirement) => requirement switch
    {
        ClaimsAuthorizationRequirement { ClaimType: "scope" } => SafeguardErrorCodes.ResourceScopeMissing,
        RolesAuthorizationRequirement => SafeguardErrorCodes.ResourceRoleMissing,
        _ => null,
    };

    private static async Task UnavailableAsync(HttpContext context)
    {
        context.Response.StatusCode = 503;
        context.Response.Headers.RetryAfter = "1";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{\"error\":\"temporarily_unavailable\",\"error_description\":\"The audit trail cannot record this request; it was not served.\"}", context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.ResourceRequestForbidden, Level = LogLevel.Debug, Message = "A protected request was refused by {Requirement} ({Code}).")]
    private static partial void LogForbidden(ILogger logger, string code, string requirement);

    [LoggerMessage(EventId = LogEvents.ResourceAuditEventLost, Level = LogLevel.Error, Message = "The audit event of a completed {Mode} request (status {Status}) could not be queued: the trail stopped taking events while it ran.")]
    private static partial void LogCompletionLost(ILogger logger, SafeguardAuditMode mode, int status);
}
