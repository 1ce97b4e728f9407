using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Safeguard.Audit;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>The verified token of the request, set by the Safeguard JWT handler (for audit, binding checks and the application).</summary>
/// <param name="token">The token.</param>
/// <param name="dpopThumbprint">The key thumbprint of the DPoP proof that came with it, when it was presented as DPoP.</param>
public sealed class SafeguardTokenFeature(ValidatedAccessToken token, string? dpopThumbprint)
{
    /// <summary>The verified token.</summary>
    public ValidatedAccessToken Token { get; } = token;

    /// <summary>The RFC 7638 thumbprint of the key whose proof came with the token (it equals the token's <c>cnf.jkt</c>); null for a Bearer token.</summary>
    public string? DpopThumbprint { get; } = dpopThumbprint;
}

/// <summary>Builds the audit event of a request to a protected resource: who, what, where, outcome.</summary>
internal static class SafeguardResourceAccess
{
    /// <summary>Where a patient-compartment requirement leaves the patient it read (HttpContext.Items).</summary>
    internal const string PatientKey = "Safeguard.Audit.Patient";

    /// <summary>Where the handler leaves the refusal code of a token it refused (HttpContext.Items).</summary>
    internal const string FailureKey = "Safeguard.Jwt.Failure";

    private const int MaxUserAgentLength = 256;
    private const int MaxRouteLength = 512;

    /// <summary>The event for a decision on <paramref name="context"/>.</summary>
    public static AuditEvent Create(HttpContext context, AuditEventType type, AuditOutcome outcome, string? reason, int? status, string chain, DateTimeOffset now)
    {
        var endpoint = context.GetEndpoint();
        var marked = endpoint?.Metadata.GetMetadata<SafeguardAuditAttribute>();
        var token = context.Features.Get<SafeguardTokenFeature>()?.Token;
        var user = context.User;
        var userAgent = context.Request.Headers.UserAgent.ToString();
        var route = endpoint is RouteEndpoint routed ? routed.RoutePattern.RawText : endpoint?.DisplayName;
        var fhir = marked is { Fhir: true } ? Fhir.Parse(context.Request.Method, context.Request.Path.Value, marked.FhirBase) : default;
        var patient = context.Items.TryGetValue(PatientKey, out var read) ? read as string
            : marked?.Patient is { } source ? SafeguardPolicies.PatientOf(context, source) : null;
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type,
            Outcome = outcome,
            Subject = token?.Subject ?? Claim(user, "sub"),
            ClientId = token?.ClientId ?? Claim(user, "client_id"),
            SessionId = token?.SessionId ?? Claim(user, "sid"),
            TokenId = token?.TokenId ?? Claim(user, "jti"),
            Acr = token?.AuthenticationContextClass ?? Claim(user, "acr"),
            Amr = token?.AuthenticationMethods ?? [],
            ConfirmationThumbprint = token?.ConfirmationJwkThumbprint ?? token?.ConfirmationCertificateThumbprint,
            SourceIp = context.Connection.RemoteIpAddress?.ToString(),
            UserAgent = userAgent.Length == 0 ? null : userAgent.Length > MaxUserAgentLength ? userAgent[..MaxUserAgentLength] : userAgent,
            NodeId = chain,
            Method = context.Request.Method,
            Route = route is null ? null : route.Length > MaxRouteLength ? route[..MaxRouteLength] : route,
            Action = fhir.Action ?? ActionOf(context.Request.Method),
            ResourceType = fhir.Type,
            ResourceId = fhir.Id,
            PatientId = patient ?? fhir.Patient,
            Reason = reason,
            HttpStatus = status,
            CorrelationId = context.TraceIdentifier,
        };
    }

    private static string? Claim(ClaimsPrincipal user, string type) => user.Identity?.IsAuthenticated == true ? user.FindFirst(type)?.Value : null;

    private static AuditAction ActionOf(string method) => method switch
    {
        "GET" or "HEAD" => AuditAction.Read,
        "POST" => AuditAction.Create,
        "PUT" or "PATCH" => AuditAction.Update,
        "DELETE" => AuditAction.Delete,
        _ => AuditAction.Execute,
    };

    /// <summary>What a FHIR REST path names: <c>[base]/{type}[/{id}[/_history/{vid}]]</c>, <c>[base]/{type}/_search</c>, <c>[base]/Patient/{id}/{type}</c>, <c>$operation</c>s.</summary>
    internal readonly record struct Fhir(string? Type, string? Id, string? Patient, AuditAction? Action)
    {
        public static Fhir Parse(string method, string? path, string fhirBase)
        {
            if (path is null || !path.StartsWith(fhirBase, StringComparison.Ordinal))
            {
                return default;
            }

            var segments = path[fhirBase.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (segments.Length == 0 || !IsType(segments[0]))
            {
                return segments.Length > 0 && segments[0].StartsWith('$') ? new Fhir(null, null, null, AuditAction.Execute) : default;
            }

            var type = segments[0];
            var id = segments.Length > 1 && IsId(segments[1]) ? segments[1] : null;
            var patient = type == "Patient" ? id : null;
            if (id is not null && segments.Length > 2 && IsType(segments[2]))
            {
                // A compartment search: Patient/123/Observation.
                return new Fhir(segments[2], null, patient, AuditAction.Search);
            }

            var action = segments.Any(s => s.StartsWith('$')) ? AuditAction.Execute
                : segments.Length > 1 && segments[1] == "_search" ? AuditAction.Search
                : method switch
                {
                    "GET" or "HEAD" => id is null ? AuditAction.Search : AuditAction.Read,
                    "POST" => AuditAction.Create,
                    "PUT" or "PATCH" => AuditAction.Update,
                    "DELETE" => AuditAction.Delete,
                    _ => AuditAction.Execute,
                };
            return new Fhir(type, id, patient, action);
        }

        private static bool IsType(string segment) =>
            segment.Length is > 1 and <= 64 && char.IsAsciiLetterUpper(segment[0]) && segment.All(char.IsAsciiLetter);

        // FHIR ids: [A-Za-z0-9\-\.]{1,64}, and never a dot segment.
        private static bool IsId(string segment) =>
            segment.Length is > 0 and <= 64 && segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') && segment.Any(char.IsAsciiLetterOrDigit);
    }
}
