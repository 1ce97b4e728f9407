using System.Globalization;
using Microsoft.AspNetCore.Http;
using Safeguard.Dpop;

namespace Safeguard.AspNetCore;

/// <summary>
/// The answers a protected resource gives when it refuses, the same from the <see cref="SafeguardJwtHandler"/> and the
/// gateway: RFC 6750 and RFC 9449 challenges with a generic error (the precise <c>SGxxxx</c> reason goes only to the
/// audit trail), RFC 9470 step-up, and 503 when the trail cannot record the request. Every one is <c>no-store</c>.
/// </summary>
internal static class SafeguardChallenges
{
    private const string DpopAlgorithms = "ES256 ES384 PS256 RS256";
    private const string TemporarilyUnavailable = "{\"error\":\"temporarily_unavailable\",\"error_description\":\"The audit trail cannot record this request; it was not served.\"}";

    /// <summary>401 for a missing or refused token: a DPoP challenge when the token came as DPoP or the route requires it, Bearer otherwise.</summary>
    /// <param name="response">The response.</param>
    /// <param name="failure">The refusal's code, or null when the request carried no credentials.</param>
    /// <param name="presentedAsDpop">Whether the token came under the DPoP scheme.</param>
    /// <param name="dpop">The DPoP validator whose nonce a <c>use_dpop_nonce</c> answer carries.</param>
    public static void Unauthorized(HttpResponse response, string? failure, bool presentedAsDpop, DpopProofValidator dpop)
    {
        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers.CacheControl = "no-store";
        if (presentedAsDpop || failure == SafeguardErrorCodes.DpopRequired)
        {
            // RFC 9449 section 7.1: the DPoP challenge, with its own error for a proof (the code stays in the trail).
            var error = failure == SafeguardErrorCodes.DpopNonceInvalid ? "use_dpop_nonce"
                : failure?.StartsWith("SG31", StringComparison.Ordinal) == true ? "invalid_dpop_proof"
                : "invalid_token";
            if (failure == SafeguardErrorCodes.DpopNonceInvalid)
            {
                response.Headers["DPoP-Nonce"] = dpop.CurrentNonce();
            }

            response.Headers.WWWAuthenticate = $"DPoP algs=\"{DpopAlgorithms}\", error=\"{error}\"";
            return;
        }

        response.Headers.WWWAuthenticate = failure is not null
            ? "Bearer realm=\"safeguard\", error=\"invalid_token\""
            : "Bearer realm=\"safeguard\"";
    }

    /// <summary>403 <c>insufficient_scope</c>, naming the scopes that would do when known (RFC 6750 section 3.1).</summary>
    /// <param name="response">The response.</param>
    /// <param name="scope">The required scopes, space separated, or null.</param>
    public static void Forbidden(HttpResponse response, string? scope)
    {
        response.StatusCode = StatusCodes.Status403Forbidden;
        response.Headers.WWWAuthenticate = scope is { Length: > 0 } && !scope.Contains('"', StringComparison.Ordinal)
            ? $"Bearer realm=\"safeguard\", error=\"insufficient_scope\", scope=\"{scope}\""
            : "Bearer realm=\"safeguard\", error=\"insufficient_scope\"";
        response.Headers.CacheControl = "no-store";
    }

    /// <summary>RFC 9470: 401 <c>insufficient_user_authentication</c>, naming the <c>acr_values</c> and <c>max_age</c> that would do.</summary>
    /// <param name="response">The response.</param>
    /// <param name="acrValues">The acceptable <c>acr</c> values when that requirement failed, or null.</param>
    /// <param name="maxAge">The greatest sign-in age when that requirement failed, or null.</param>
    public static void StepUp(HttpResponse response, IReadOnlyList<string>? acrValues, TimeSpan? maxAge)
    {
        var header = "Bearer realm=\"safeguard\", error=\"insufficient_user_authentication\", error_description=\"A more recent or stronger sign-in is required\"";
        if (acrValues is not null)
        {
            header += ", acr_values=\"" + string.Join(' ', acrValues) + "\"";
        }

        if (maxAge is { } age)
        {
            header += ", max_age=" + ((long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers.WWWAuthenticate = header;
        response.Headers.CacheControl = "no-store";
    }

    /// <summary>503: the audit trail cannot record the request, so it was not served (retry in a second).</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes when the answer is written.</returns>
    public static Task UnavailableAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(TemporarilyUnavailable, context.RequestAborted);
    }
}
