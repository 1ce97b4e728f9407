using Microsoft.AspNetCore.Http;
using Safeguard.Dpop;

namespace Safeguard.AspNetCore;

/// <summary>
/// A route's requirements checked straight against the verified token, for the gateway's access step (no
/// <c>ClaimsPrincipal</c>, no policy evaluation per request). The same requirements as <see cref="SafeguardPolicies"/>
/// and the same answer when one fails as <see cref="SafeguardAuthorizationResultHandler"/>: a missing DPoP proof first
/// (401, DPoP challenge), then the sign-in's level and age (401, RFC 9470 step-up naming what would do), then scopes
/// and roles (403 <c>insufficient_scope</c>).
/// </summary>
internal sealed class SafeguardRouteRequirements
{
    private readonly SafeguardScopeRequirement? _scopes;
    private readonly SafeguardRoleRequirement? _roles;
    private readonly SafeguardAcrRequirement? _acr;
    private readonly SafeguardMaxAgeRequirement? _maxAge;
    private readonly bool _dpop;
    private readonly string? _scopeList;

    /// <summary>Builds the requirements (each checked as its <see cref="SafeguardPolicies"/> counterpart checks its arguments).</summary>
    /// <param name="scopes">Every one required; none for no scope requirement.</param>
    /// <param name="roles">One of them required; none for no role requirement.</param>
    /// <param name="acrValues">One of them required as the sign-in's <c>acr</c>; none for no requirement.</param>
    /// <param name="maxAge">The greatest sign-in age, or null.</param>
    /// <param name="requireDpop">Whether the token must come as DPoP with a proof of its key.</param>
    public SafeguardRouteRequirements(IReadOnlyList<string> scopes, IReadOnlyList<string> roles, IReadOnlyList<string> acrValues, TimeSpan? maxAge, bool requireDpop)
    {
        _scopes = scopes.Count > 0 ? new SafeguardScopeRequirement([.. scopes]) : null;
        _roles = roles.Count > 0 ? new SafeguardRoleRequirement([.. roles]) : null;
        _acr = acrValues.Count > 0 ? new SafeguardAcrRequirement([.. acrValues]) : null;
        _maxAge = maxAge is { } age ? new SafeguardMaxAgeRequirement(age) : null;
        _dpop = requireDpop;
        _scopeList = _scopes is null ? null : string.Join(' ', _scopes.Scopes);
    }

    /// <summary>The first requirement <paramref name="feature"/> fails, in the order the answer takes them, or null when it meets them all.</summary>
    /// <param name="feature">The verified token.</param>
    /// <param name="now">The time (for the sign-in's age).</param>
    /// <returns>The refusal, or null.</returns>
    public Refusal? Check(SafeguardTokenFeature feature, DateTimeOffset now)
    {
        if (_dpop && feature.DpopThumbprint is null)
        {
            return new Refusal(SafeguardErrorCodes.DpopRequired, StatusCodes.Status401Unauthorized, Kind.Dpop, null, null);
        }

        var token = feature.Token;
        var acrFailed = _acr is not null && !_acr.IsMetBy(token);
        var ageFailed = _maxAge is not null && !_maxAge.IsMetBy(token, now);
        if (acrFailed || ageFailed)
        {
            return new Refusal(
                acrFailed ? _acr!.ErrorCode : _maxAge!.ErrorCode, StatusCodes.Status401Unauthorized, Kind.StepUp, acrFailed ? _acr : null, ageFailed ? _maxAge : null);
        }

        if (_scopes is not null && !_scopes.IsMetBy(token))
        {
            return new Refusal(_scopes.ErrorCode, StatusCodes.Status403Forbidden, Kind.Scope, null, null);
        }

        return _roles is not null && !_roles.IsMetBy(token)
            ? new Refusal(_roles.ErrorCode, StatusCodes.Status403Forbidden, Kind.Role, null, null)
            : null;
    }

    /// <summary>Writes the answer of <paramref name="refusal"/>.</summary>
    /// <param name="response">The response.</param>
    /// <param name="refusal">What failed.</param>
    /// <param name="dpop">The DPoP validator (for the challenge).</param>
    public void Answer(HttpResponse response, Refusal refusal, DpopProofValidator dpop)
    {
        switch (refusal.Is)
        {
            case Kind.Dpop:
                SafeguardChallenges.Unauthorized(response, SafeguardErrorCodes.DpopRequired, presentedAsDpop: false, dpop);
                break;
            case Kind.StepUp:
                SafeguardChallenges.StepUp(response, refusal.Acr?.AcrValues, refusal.MaxAge?.MaxAge);
                break;
            default:
                SafeguardChallenges.Forbidden(response, refusal.Is == Kind.Scope ? _scopeList : null);
                break;
        }
    }

    /// <summary>Which kind of requirement failed.</summary>
    internal enum Kind
    {
        /// <summary>A DPoP-bound token with its proof.</summary>
        Dpop,

        /// <summary>The sign-in's level or age.</summary>
        StepUp,

        /// <summary>A scope.</summary>
        Scope,

        /// <summary>A role.</summary>
        Role,
    }

    /// <summary>A failed requirement: its reason code, the status of the answer and what the step-up names.</summary>
    /// <param name="Code">The <c>SGxxxx</c> reason for the audit trail.</param>
    /// <param name="Status">401 or 403.</param>
    /// <param name="Is">Which kind failed.</param>
    /// <param name="Acr">The failed <c>acr</c> requirement, when it failed.</param>
    /// <param name="MaxAge">The failed age requirement, when it failed.</param>
    internal readonly record struct Refusal(string Code, int Status, Kind Is, SafeguardAcrRequirement? Acr, SafeguardMaxAgeRequirement? MaxAge);
}
