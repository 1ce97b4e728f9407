using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.Configuration;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.Discovery;
using Safeguard.Server.Hosting;
using Safeguard.Server.Introspection;
using Safeguard.Server.OAuth;
using Safeguard.Server.Revocation;
using Safeguard.Server.SignIn;
using Safeguard.Server.Token;
using Safeguard.Tokens;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Composes the authorization server from the core, the storage and its own features.</summary>
public static class SafeguardServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the authorization server: <c>AddSafeguardCore</c>, <c>AddSafeguardStorage</c>, the server's own options
    /// (the <c>Safeguard</c> section: <c>Listen</c>, <c>Issuer</c>, <c>Tls</c>, <c>Limits</c>, intervals; bound once,
    /// validated on start), the issuer for issuance and validation, every endpoint, the grant handlers, the background
    /// loops, health checks and metrics. Calling this twice is harmless.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddSafeguardServer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(ServerMarker)))
        {
            return services;
        }

        services.AddSingleton<ServerMarker>();
        services.AddSafeguardCore(configuration).AddSafeguardStorage(configuration);
        services.AddSafeguardOptions<ServerOptions, ServerOptionsValidator>(configuration.GetSection(SafeguardConfiguration.Section));
        services.AddSingleton<IPostConfigureOptions<ServerOptions>, ServerOptionsSetup>();

        // One issuer: what the server signs into tokens is what it checks on the tokens it is shown.
        // A server whose own options are invalid reports those; the options derived from them are then checked as they
        // stand, so every other failure (a 2-hour token lifetime, say) is reported in the same run.
        services.AddOptions<AccessTokenOptions>()
            .Configure<IOptions<ServerOptions>>((tokens, server) => tokens.Issuer = IssuerOf(server) ?? tokens.Issuer)
            .ValidateOnStart();
        services.AddOptions<AccessTokenValidationOptions>()
            .Configure<IOptions<ServerOptions>>((validation, server) =>
            {
                if (IssuerOf(server) is not { } issuer)
                {
                    return;
                }

                validation.Issuer = issuer;
                if (!validation.Audiences.Contains(issuer))
                {
                    validation.Audiences.Add(issuer);
                }
            })
            .ValidateOnStart();

        services.AddSingleton(sp => new ServerEndpoints(sp.GetRequiredService<IOptions<ServerOptions>>().Value.ResolveIssuer()));
        services.AddSingleton(sp => ClientCertificateAuthorities.From(sp.GetRequiredService<IOptions<ServerOptions>>().Value.Tls));
        services.AddSingleton<ServerCertificate>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton(sp => new RefusalAggregator(
            sp.GetRequiredService<AuditWriter>(), sp.GetRequiredService<IOptions<ServerOptions>>().Value.RateLimits.RefusalSummaryWindow,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RefusalAggregator>>()));
        services.AddSingleton<ServerAudit>();
        services.AddSafeguardRateLimits();

        services.AddSingleton<ClientRegistry>();
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<AuthenticatedRequestReader>();
        services.AddSingleton<RevocationService>();
        services.AddSingleton<IAccessTokenRevocationList>(sp => sp.GetRequiredService<RevocationService>().List);

        services.AddSingleton<ITokenGrantHandler, ClientCredentialsGrant>();
        services.AddSingleton<ITokenGrantHandler, AuthorizationCodeGrant>();
        services.AddSingleton<ITokenGrantHandler, RefreshTokenGrant>();
        services.AddSingleton<UserTokens>();
        services.AddSingleton<AuthorizationResponder>();
        services.AddSingleton<AuthorizeEndpoint>();
        services.AddSingleton<PushedAuthorizationEndpoint>();
        services.AddSingleton<Safeguard.Server.UserInfo.UserInfoEndpoint>();
        services.AddSingleton<SignInCookies>();
        services.AddSingleton<SignInFlow>();
        services.AddSingleton<Passkeys>();

        // The sign-in pages: server-rendered, no script, anti-forgery on every form (a __Host- cookie).
        services.AddRazorPages(pages => pages.RootDirectory = "/SignIn/Pages");
        services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "__Host-safeguard-af";
            antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
            antiforgery.Cookie.Path = "/";
            antiforgery.FormFieldName = "__af";
            antiforgery.SuppressXFrameOptionsHeader = true;
        });
        services.AddSingleton<TokenEndpoint>();
        services.AddSingleton<RevocationEndpoint>();
        services.AddSingleton<IntrospectionEndpoint>();
        services.AddSingleton<RevocationFeedEndpoint>();
        services.AddSingleton<RevocationFeedSignal>();
        services.AddSingleton<DiscoveryEndpoints>();

        // Start-up order: schema, audit, keys, clients; then the background loops; then Kestrel.
        services.AddSingleton<KeyMaintenanceService>();
        services.AddSingleton<SyncService>();
        services.TryAddSingleton(new ServerConsole(Console.Out, Interactive: !Console.IsOutputRedirected));
        services.TryAddSingleton(_ => BackchannelLogoutHttp.Default());
        services.AddSingleton<BackchannelLogout>();
        services.AddHostedService(sp => sp.GetRequiredService<BackchannelLogout>());
        services.AddSingleton<FirstAdministrator>();
        services.AddHostedService<ServerStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyMaintenanceService>());
        services.AddHostedService(sp => sp.GetRequiredService<SyncService>());

        services.AddHsts(hsts =>
        {
            hsts.MaxAge = TimeSpan.FromDays(365);
            hsts.IncludeSubDomains = true;
            hsts.ExcludedHosts.Clear();
        });
        services.AddSingleton<StoreProbe>();
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", tags: ["ready"])
            .AddCheck<AuditHealthCheck>("audit", tags: ["ready"])
            .AddCheck<SigningKeyHealthCheck>("signing_key", tags: ["ready"])
            .AddCheck<AuditLivenessCheck>("audit_writer", tags: ["live"]);
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ServerMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());
        return services;
    }

    private static string? IssuerOf(IOptions<ServerOptions> server)
    {
        try
        {
            return server.Value.ResolveIssuer();
        }
        catch (OptionsValidationException)
        {
            return null;
        }
    }

    /// <summary>Marks the server as added, so a second call adds nothing.</summary>
    private sealed class ServerMarker;
}
