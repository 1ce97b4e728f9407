using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary><c>AddSafeguardAudit</c>: an audit event for every request to a protected endpoint, on the resource's own trail.</summary>
public static class SafeguardAuditExtensions
{
    /// <summary>
    /// Audits every request that reaches authorization (every endpoint with <c>RequireAuthorization</c> or
    /// <c>[Authorize]</c>), allowed or denied, on a trail in <see cref="SafeguardAuditOptions.DataPath"/> (or
    /// PostgreSQL). The trail starts with the host and a clean stop commits everything queued. Options are validated
    /// at start.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets at least <see cref="SafeguardAuditOptions.DataPath"/>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddSafeguardAudit(this IServiceCollection services, Action<SafeguardAuditOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SafeguardAuditOptions>, SafeguardAuditOptionsValidator>());
        services.AddOptions<SafeguardAuditOptions>().Configure(configure).ValidateOnStart();
        if (services.Any(d => d.ServiceType == typeof(SafeguardResourceAudit)))
        {
            return services;
        }

        services.AddSingleton<SafeguardResourceAudit>();
        services.AddHostedService(sp => new AuditLifetime(sp.GetRequiredService<SafeguardResourceAudit>()));
        services.Replace(ServiceDescriptor.Singleton<IAuthorizationMiddlewareResultHandler, SafeguardAuthorizationResultHandler>());
        return services;
    }

    /// <summary>Sets how an endpoint's requests are audited.</summary>
    /// <typeparam name="TBuilder">The endpoint convention builder.</typeparam>
    /// <param name="builder">The endpoint or group.</param>
    /// <param name="mode">Durable (the request waits for its event) or Buffered.</param>
    /// <param name="fhir">Whether the route is FHIR REST (resource type and id read from the path).</param>
    /// <param name="fhirBase">The path before the FHIR type, such as <c>/fhir</c>.</param>
    /// <param name="patient">Where the request names the patient, if anywhere.</param>
    /// <returns>The builder.</returns>
    public static TBuilder WithSafeguardAudit<TBuilder>(this TBuilder builder, SafeguardAuditMode mode, bool fhir = false, string fhirBase = "", SafeguardPatientSource? patient = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithMetadata(new SafeguardAuditAttribute { Mode = mode, Fhir = fhir, FhirBase = fhirBase, Patient = patient });
    }

    /// <summary>Starts the trail before the server takes requests and stops it (committing what is queued) after the last one.</summary>
    private sealed class AuditLifetime(SafeguardResourceAudit audit) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => audit.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => audit.StopAsync(cancellationToken);
    }
}
