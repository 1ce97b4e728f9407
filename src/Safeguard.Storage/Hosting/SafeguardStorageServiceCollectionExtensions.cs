using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Sessions;
using Safeguard.State;
using Safeguard.Storage.Data;
using Safeguard.Tokens;
using Safeguard.Users;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Composes Safeguard's storage: SQLite (the embedded default) or PostgreSQL, from configuration.</summary>
public static class SafeguardStorageServiceCollectionExtensions
{
    /// <summary>
    /// Adds the stores behind Safeguard's core interfaces, on the database <c>Safeguard:Database</c> names (bound once,
    /// validated on start): <see cref="IStateStore"/> and <see cref="ILeaderLock"/> (the database itself),
    /// <see cref="IClientStore"/>, <see cref="IUserStore"/>, <see cref="IAuthenticatorStore"/>, <see cref="ISessionStore"/>, <see cref="IAuthorizationStore"/>, <see cref="IRefreshTokenStore"/>, <see cref="ISigningKeyStore"/>, <see cref="IRevocationStore"/>, <see cref="IRevocationFeedSource"/> and <see cref="IRevocationFeedNotifications"/> (PostgreSQL <c>LISTEN</c>),
    /// <see cref="IReplayCache"/> and <see cref="IAuditStore"/> (the append-only trail). Hosts depend on those
    /// interfaces, never on the EF Core classes. Needs <c>AddSafeguardCore</c> (the data folder). Calling this twice
    /// is harmless.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddSafeguardStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSafeguardOptions<DatabaseOptions, DatabaseOptionsValidator>(configuration.GetSection(SafeguardConfiguration.Section).GetSection("Database"));
        services.TryAddSingleton(sp => SafeguardDatabase.Open(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value, sp.GetRequiredService<SafeguardDataFolder>()));
        services.TryAddSingleton<IStateStore>(sp => sp.GetRequiredService<SafeguardDatabase>());
        services.TryAddSingleton<ILeaderLock>(sp => sp.GetRequiredService<SafeguardDatabase>());
        services.TryAddSingleton<IClientStore, EfClientStore>();
        services.TryAddSingleton<IUserStore, EfUserStore>();
        services.TryAddSingleton<IAuthenticatorStore, EfAuthenticatorStore>();
        services.TryAddSingleton<IEnrolmentLinkStore, EfEnrolmentLinkStore>();
        services.TryAddSingleton<ISessionStore, EfSessionStore>();
        services.TryAddSingleton<IAuthorizationStore, EfAuthorizationStore>();
        services.TryAddSingleton<IRefreshTokenStore, EfRefreshTokenStore>();
        services.TryAddSingleton<ISigningKeyStore, EfSigningKeyStore>();
        services.TryAddSingleton<IRevocationStore, EfRevocationStore>();
        services.TryAddSingleton<IRevocationFeedSource, EfRevocationFeedSource>();
        services.TryAddSingleton<IRevocationFeedNotifications, PostgresRevocationNotifications>();
        services.TryAddSingleton<IReplayCache, EfReplayCache>();
        services.TryAddSingleton(sp => sp.GetRequiredService<SafeguardDatabase>().OpenAuditStore());
        return services;
    }
}
