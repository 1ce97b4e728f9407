using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary><c>AddSafeguardJwt</c>: Safeguard access tokens for an ASP.NET Core API in one line.</summary>
public static class SafeguardJwtExtensions
{
    /// <summary>Adds the Safeguard JWT scheme (<see cref="SafeguardJwtDefaults.AuthenticationScheme"/>); its options are validated at start.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="configure">Sets <see cref="SafeguardJwtOptions.Authority"/> and <see cref="SafeguardJwtOptions.Audience"/>.</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddSafeguardJwt(this AuthenticationBuilder builder, Action<SafeguardJwtOptions> configure) =>
        builder.AddSafeguardJwt(SafeguardJwtDefaults.AuthenticationScheme, configure);

    /// <summary>Adds a Safeguard JWT scheme under <paramref name="scheme"/>; its options are validated at start.</summary>
    /// <param name="builder">The authentication builder.</param>
    /// <param name="scheme">The scheme name.</param>
    /// <param name="configure">Sets <see cref="SafeguardJwtOptions.Authority"/> and <see cref="SafeguardJwtOptions.Audience"/>.</param>
    /// <returns>The builder.</returns>
    public static AuthenticationBuilder AddSafeguardJwt(this AuthenticationBuilder builder, string scheme, Action<SafeguardJwtOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSafeguardJwtServices(scheme);
        return builder.AddScheme<SafeguardJwtOptions, SafeguardJwtHandler>(scheme, configure);
    }

    /// <summary>
    /// What a Safeguard JWT scheme needs besides its handler: the clock, the authorities (keys, validator, DPoP state,
    /// revocation feed), its options validated at start and the start-up that follows its feed from the first moment.
    /// The gateway uses these without the authentication middleware (its access step runs the same token check).
    /// </summary>
    internal static IServiceCollection AddSafeguardJwtServices(this IServiceCollection services, string scheme)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SafeguardJwtAuthorities>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SafeguardJwtOptions>, SafeguardJwtOptionsValidator>());
        services.AddOptions<SafeguardJwtOptions>(scheme).ValidateOnStart();
        services.AddSingleton(new SafeguardJwtScheme(scheme));
        if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(SafeguardJwtStartup)))
        {
            services.AddHostedService<SafeguardJwtStartup>();
        }

        return services;
    }
}
