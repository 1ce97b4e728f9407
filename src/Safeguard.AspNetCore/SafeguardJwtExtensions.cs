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
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<SafeguardJwtAuthorities>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SafeguardJwtOptions>, SafeguardJwtOptionsValidator>());
        builder.Services.AddOptions<SafeguardJwtOptions>(scheme).ValidateOnStart();
        builder.Services.AddSingleton(new SafeguardJwtScheme(scheme));
        if (!builder.Services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(SafeguardJwtStartup)))
        {
            builder.Services.AddHostedService<SafeguardJwtStartup>();
        }

        return builder.AddScheme<SafeguardJwtOptions, SafeguardJwtHandler>(scheme, configure);
    }
}
