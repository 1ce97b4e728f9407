using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>
/// Safeguard's authorization requirements for an <see cref="AuthorizationPolicyBuilder"/>: scopes, roles, the
/// authentication level (<c>acr</c>), the sign-in's age (<c>auth_time</c>) and the patient compartment. A refused
/// <c>acr</c> or age is answered per RFC 9470 (401 <c>insufficient_user_authentication</c> naming what would do); a
/// missing scope 403 <c>insufficient_scope</c>. Each refusal's precise reason goes to the audit trail.
/// </summary>
public static class SafeguardPolicies
{
    /// <summary>Requires every one of <paramref name="scopes"/>.</summary>
    /// <param name="policy">The policy.</param>
    /// <param name="scopes">The scopes.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequireScopes(this AuthorizationPolicyBuilder policy, params string[] scopes)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardScopeRequirement(scopes));
    }

    /// <summary>Requires one of <paramref name="roles"/>.</summary>
    /// <param name="policy">The policy.</param>
    /// <param name="roles">The roles.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequireSafeguardRole(this AuthorizationPolicyBuilder policy, params string[] roles)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardRoleRequirement(roles));
    }

    /// <summary>Requires a sign-in at one of <paramref name="acrValues"/> (for MFA: <c>http://idmanagement.gov/ns/assurance/aal/2</c>).</summary>
    /// <param name="policy">The policy.</param>
    /// <param name="acrValues">The acceptable <c>acr</c> values, most preferred first.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequireAcr(this AuthorizationPolicyBuilder policy, params string[] acrValues)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardAcrRequirement(acrValues));
    }

    /// <summary>Requires a sign-in no older than <paramref name="maxAge"/> (its <c>auth_time</c>).</summary>
    /// <param name="policy">The policy.</param>
    /// <param name="maxAge">The greatest age.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequireAuthenticatedWithin(this AuthorizationPolicyBuilder policy, TimeSpan maxAge)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardMaxAgeRequirement(maxAge));
    }

    /// <summary>Requires a DPoP-bound token presented with a proof of its key (RFC 9449).</summary>
    /// <param name="policy">The policy.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequireDpopBoundToken(this AuthorizationPolicyBuilder policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardDpopRequirement());
    }

    /// <summary>
    /// Requires the patient the request names (at <paramref name="source"/>) to be one the registered
    /// <see cref="ISafeguardPatientPolicy"/> allows this caller. A request that names no patient, or an application
    /// that registered no policy, is refused (fail closed).
    /// </summary>
    /// <param name="policy">The policy.</param>
    /// <param name="source">Where the request names the patient.</param>
    /// <returns>The policy.</returns>
    public static AuthorizationPolicyBuilder RequirePatientCompartment(this AuthorizationPolicyBuilder policy, SafeguardPatientSource source)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.RequireAuthenticatedUser().AddRequirements(new SafeguardPatientRequirement(source));
    }

    /// <summary>The patient a request names at <paramref name="source"/>, or null.</summary>
    /// <param name="context">The request.</param>
    /// <param name="source">Where to look.</param>
    /// <returns>The patient id (at most 256 characters), or null.</returns>
    public static string? PatientOf(HttpContext context, SafeguardPatientSource source)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(source);
        var value = source.Kind switch
        {
            SafeguardPatientSourceKind.RouteValue => context.GetRouteValue(source.Name)?.ToString(),
            SafeguardPatientSourceKind.Query => context.Request.Query[source.Name] is { Count: 1 } query ? query[0] : null,
            SafeguardPatientSourceKind.Header => context.Request.Headers[source.Name] is { Count: 1 } header ? header[0] : null,
            _ => null,
        };

        // FHIR references name a patient as Patient/123.
        if (value is not null && value.StartsWith("Patient/", StringComparison.Ordinal))
        {
            value = value["Patient/".Length..];
        }

        return value is { Length: > 0 and <= 256 } ? value : null;
    }
}

/// <summary>Decides whether a caller may reach a patient's records (the patient-compartment hook).</summary>
public interface ISafeguardPatientPolicy
{
    /// <summary>Whether <paramref name="user"/> may reach <paramref name="patientId"/>'s records in this request.</summary>
    /// <param name="user">The verified caller.</param>
    /// <param name="patientId">The patient the request names.</param>
    /// <param name="context">The request.</param>
    /// <returns>True to allow.</returns>
    ValueTask<bool> AllowsAsync(ClaimsPrincipal user, string patientId, HttpContext context);
}

/// <summary>A Safeguard requirement, with the reason code recorded when it refuses.</summary>
public abstract class SafeguardRequirement : IAuthorizationRequirement
{
    /// <summary>The <c>SGxxxx</c> code recorded when this requirement refuses.</summary>
    public abstract string ErrorCode { get; }
}

/// <summary>Every listed scope.</summary>
/// <param name="scopes">The scopes.</param>
public sealed class SafeguardScopeRequirement(IReadOnlyList<string> scopes) : SafeguardRequirement, IAuthorizationHandler
{
    /// <summary>The scopes.</summary>
    public IReadOnlyList<string> Scopes { get; } = scopes.Count > 0 ? scopes : throw new ArgumentException("Name at least one scope.", nameof(scopes));

    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.ResourceScopeMissing;

    /// <summary>Whether the verified token grants every scope (the gateway's check, without a principal).</summary>
    internal bool IsMetBy(ValidatedAccessToken token)
    {
        foreach (var scope in Scopes)
        {
            if (!Contains(token.Scopes, scope))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool Contains(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.PendingRequirements.Contains(this) && Scopes.All(s => context.User.HasClaim("scope", s)))
        {
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }
}

/// <summary>One of the listed roles.</summary>
/// <param name="roles">The roles.</param>
public sealed class SafeguardRoleRequirement(IReadOnlyList<string> roles) : SafeguardRequirement, IAuthorizationHandler
{
    /// <summary>The roles.</summary>
    public IReadOnlyList<string> Roles { get; } = roles.Count > 0 ? roles : throw new ArgumentException("Name at least one role.", nameof(roles));

    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.ResourceRoleMissing;

    /// <summary>Whether the verified token carries one of the roles.</summary>
    internal bool IsMetBy(ValidatedAccessToken token)
    {
        foreach (var role in Roles)
        {
            if (SafeguardScopeRequirement.Contains(token.Roles, role))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.PendingRequirements.Contains(this) && Roles.Any(r => context.User.HasClaim(ClaimTypes.Role, r)))
        {
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }
}

/// <summary>A sign-in at one of the listed authentication levels (RFC 9470 step-up when not).</summary>
/// <param name="acrValues">The acceptable values, most preferred first.</param>
public sealed class SafeguardAcrRequirement(IReadOnlyList<string> acrValues) : SafeguardRequirement, IAuthorizationHandler
{
    /// <summary>The acceptable values.</summary>
    public IReadOnlyList<string> AcrValues { get; } = acrValues.Count > 0 && acrValues.All(v => v.Length > 0 && !v.Contains('"', StringComparison.Ordinal) && !v.Contains(' ', StringComparison.Ordinal))
        ? acrValues
        : throw new ArgumentException("Name at least one acr value, without spaces or quotes.", nameof(acrValues));

    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.ResourceAcrInsufficient;

    /// <summary>Whether the verified token's <c>acr</c> is one of the values.</summary>
    internal bool IsMetBy(ValidatedAccessToken token) =>
        token.AuthenticationContextClass is { } acr && SafeguardScopeRequirement.Contains(AcrValues, acr);

    /// <inheritdoc />
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.PendingRequirements.Contains(this) && context.User.FindFirst("acr")?.Value is { } acr && AcrValues.Contains(acr, StringComparer.Ordinal))
        {
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }
}

/// <summary>A sign-in no older than <see cref="MaxAge"/> (RFC 9470 step-up when older, or when the token has no <c>auth_time</c>).</summary>
/// <param name="maxAge">The greatest age.</param>
public sealed class SafeguardMaxAgeRequirement(TimeSpan maxAge) : SafeguardRequirement, IAuthorizationHandler
{
    /// <summary>The greatest age.</summary>
    public TimeSpan MaxAge { get; } = maxAge > TimeSpan.Zero ? maxAge : throw new ArgumentOutOfRangeException(nameof(maxAge), "The age must be positive.");

    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.ResourceAuthenticationTooOld;

    /// <summary>Whether the verified token's <c>auth_time</c> is no older than <see cref="MaxAge"/> at <paramref name="now"/> (a token without one fails).</summary>
    internal bool IsMetBy(ValidatedAccessToken token, DateTimeOffset now) =>
        token.AuthenticationTime is { } authTime && now - authTime <= MaxAge;

    /// <inheritdoc />
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.PendingRequirements.Contains(this)
            || !long.TryParse(context.User.FindFirst("auth_time")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var authTime))
        {
            return Task.CompletedTask;
        }

        var time = (context.Resource as HttpContext)?.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
        if (time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(authTime) <= MaxAge)
        {
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }
}

/// <summary>The patient the request names is one the application's <see cref="ISafeguardPatientPolicy"/> allows.</summary>
/// <param name="source">Where the request names the patient.</param>
public sealed class SafeguardPatientRequirement(SafeguardPatientSource source) : SafeguardRequirement, IAuthorizationHandler
{
    /// <summary>Where the request names the patient.</summary>
    public SafeguardPatientSource Source { get; } = source ?? throw new ArgumentNullException(nameof(source));

    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.ResourcePatientNotAllowed;

    /// <inheritdoc />
    public async Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.PendingRequirements.Contains(this) || context.Resource is not HttpContext http
            || SafeguardPolicies.PatientOf(http, Source) is not { } patient)
        {
            return;
        }

        http.Items[SafeguardResourceAccess.PatientKey] = patient;
        if (http.RequestServices.GetService<ISafeguardPatientPolicy>() is { } policy
            && await policy.AllowsAsync(context.User, patient, http).ConfigureAwait(false))
        {
            context.Succeed(this);
        }
    }
}

/// <summary>The token was presented as DPoP with a verified proof of its key (RFC 9449): a Bearer or unbound token is refused with a DPoP challenge.</summary>
public sealed class SafeguardDpopRequirement : SafeguardRequirement, IAuthorizationHandler
{
    /// <inheritdoc />
    public override string ErrorCode => SafeguardErrorCodes.DpopRequired;

    /// <inheritdoc />
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.PendingRequirements.Contains(this) && context.Resource is HttpContext http
            && http.Features.Get<SafeguardTokenFeature>()?.DpopThumbprint is not null)
        {
            context.Succeed(this);
        }

        return Task.CompletedTask;
    }
}
