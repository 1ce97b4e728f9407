using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;
using Safeguard.Hosting;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Safeguard.Gateway;

/// <summary>
/// Builds the gateway: Kestrel on TLS only (Safeguard's TLS policy), <c>AddSafeguardJwt</c>'s token check against the
/// authority, each route's scopes, roles, acr, sign-in age and DPoP requirement checked by <see cref="GatewayAccess"/>
/// at the head of YARP's proxy pipeline, the resource audit trail (an event for every request, Durable or Buffered, 503
/// when it cannot take one), and YARP routes and clusters from <see cref="GatewayOptions"/> with the header rules of
/// <see cref="GatewayHeaders"/>.
/// </summary>
public static class SafeguardGateway
{
    /// <summary>Builds the gateway from configuration (its <c>Gateway</c> section); options are validated before anything listens.</summary>
    /// <param name="configuration">The configuration (gateway.json, environment, command line).</param>
    /// <param name="configure">Changes the builder before it is built (tests, hosts that add logging), or null.</param>
    /// <returns>The application, not started.</returns>
    /// <exception cref="OptionsValidationException">The configuration is not valid (every problem listed).</exception>
    public static WebApplication Build(IConfiguration configuration, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new GatewayOptions();
        configuration.GetSection(GatewayOptions.Section).Bind(options);
        var validation = new GatewayOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(GatewayOptions.Section, typeof(GatewayOptions), validation.Failures);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddConfiguration(configuration);

        // Per-request lines belong in the audit trail, not the operational log (unless Logging:LogLevel says otherwise).
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Safeguard.AspNetCore.SafeguardJwtHandler", LogLevel.Warning);
        builder.Logging.AddFilter("Safeguard.Gateway.GatewayAccess", LogLevel.Warning);

        // Hosting's own category only logs per-request lines (filtered above), yet while it is enabled at all every
        // request gets an Activity for its log scope and the forwarded request a child Activity with trace headers.
        if (configuration["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] is null)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }

        builder.Services.AddSingleton(Options.Create(options));
        var folder = SafeguardDataFolder.At(options.DataPath).EnsureCreated();
        var host = new Uri(options.Listen[0]).Host is "0.0.0.0" or "[::]" or "*" or "+" ? "localhost" : new Uri(options.Listen[0]).Host;
        var certificate = SafeguardTls.Load(options.Tls.CertificatePath, options.Tls.KeyPath, folder, host, TimeProvider.System);
        var chain = SafeguardTls.Intermediates(options.Tls.CertificatePath);
        builder.Services.AddSingleton(new GatewayCertificate(certificate));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var listen in options.Listen.Select(l => new Uri(l)))
            {
                var address = listen.Host is "0.0.0.0" or "*" or "+" ? IPAddress.Any
                    : listen.Host == "[::]" ? IPAddress.IPv6Any
                    : listen.IsLoopback && !IPAddress.TryParse(listen.Host.Trim('[', ']'), out _) ? IPAddress.Loopback
                    : IPAddress.Parse(listen.Host.Trim('[', ']'));
                kestrel.Listen(address, listen.Port, l => l.UseSafeguardTls(certificate, chain, options.Tls.AllowClientCertificates));
            }
        });

        // The Safeguard JWT scheme's services (the authority's keys, validator, DPoP state and revocation feed, its options
        // validated at start) without the authentication and authorization middleware: the access step (GatewayAccess)
        // runs the same token check. Registering AddAuthentication would make WebApplication add that middleware too.
        builder.Services.AddSafeguardJwtServices(SafeguardJwtDefaults.AuthenticationScheme);
        builder.Services.Configure<SafeguardJwtOptions>(SafeguardJwtDefaults.AuthenticationScheme, jwt =>
        {
            jwt.Authority = options.Authority;
            jwt.Audience = options.Audience;
            jwt.RevocationFeedClientId = options.RevocationFeed.ClientId;
            jwt.RevocationFeedClientSecret = options.RevocationFeed.ClientSecret;
            jwt.RevocationFeedOutageBound = options.RevocationFeed.OutageBound;
            if ((options.AuthorityCertificateSha256 is { } sha ? Fingerprint.Normalize(sha) : options.AuthorityCertificatePath is { } pem ? Fingerprint.OfPemFile(pem) : null) is { } pinned)
            {
                jwt.BackchannelHandler = new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && Fingerprint.Of(c) == pinned },
                };
            }
        });

        builder.Services.AddSafeguardAudit(audit =>
        {
            audit.DataPath = options.DataPath;
            audit.PostgresConnectionString = options.Audit.PostgresConnectionString;
            audit.ChainId = options.Audit.ChainId;
            audit.DefaultMode = options.Audit.DefaultMode;
            audit.BufferedCommitBound = options.Audit.BufferedCommitBound;
            audit.DurableCommitTimeout = options.Audit.DurableCommitTimeout;
        });

        var assertions = options.IdentityAssertion ? new GatewayIdentityAssertion(options.Audience, TimeProvider.System) : null;
        var headers = new GatewayHeaders(options) { Assertions = assertions };
        if (assertions is not null)
        {
            builder.Services.AddSingleton(assertions);
        }

        builder.Services.AddReverseProxy()
            .LoadFromMemory(Routes(options), Clusters(options))
            .AddTransforms(context =>
            {
                context.UseDefaultForwarders = false;
                context.CopyRequestHeaders = true;
                var cluster = context.Route.ClusterId ?? string.Empty;
                context.AddRequestTransform(transform =>
                {
                    headers.Apply(transform.HttpContext, transform.ProxyRequest, cluster);
                    return ValueTask.CompletedTask;
                });

                // Set, never append: what the client sent was dropped above.
                context.AddXForwardedFor(action: ForwardedTransformActions.Set);
                context.AddXForwardedProto(action: ForwardedTransformActions.Set);
                context.AddXForwardedHost(action: ForwardedTransformActions.Set);
            });
        builder.Services.AddHealthChecks().AddSafeguardJwt("ready");
        builder.Services.AddSingleton<IForwarderHttpClientFactory>(sp => new PinnedForwarderHttpClientFactory(options));
        builder.Services.AddSingleton<GatewayAccess>();
        configure?.Invoke(builder);

        var app = builder.Build();

        // The gateway's own health: live, and ready while its revocation feed is current (never proxied).
        app.MapHealthChecks("/.safeguard/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/.safeguard/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        if (assertions is not null)
        {
            app.MapGet(GatewayIdentityAssertion.JwksPath, () => Results.Text(assertions.Jwks, "application/jwk-set+json"));
        }

        // The access step comes first in the proxy pipeline: nothing reaches load balancing or forwarding without it.
        var access = app.Services.GetRequiredService<GatewayAccess>();
        app.MapReverseProxy(pipeline =>
        {
            pipeline.Use(access.InvokeAsync);
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        }).ConfigureEndpoints((endpoint, route) =>
        {
            var configured = options.Routes[route.RouteId];
            var mode = configured.Audit ?? options.Audit.DefaultMode;
            endpoint.WithMetadata(
                new GatewayRouteAccess(new SafeguardRouteRequirements([.. configured.Scopes], [.. configured.Roles], [.. configured.Acr], configured.MaxAge, configured.RequireDpop), mode),
                new SafeguardAuditAttribute
                {
                    Mode = mode,
                    Fhir = configured.Fhir,
                    FhirBase = configured.FhirBase,
                    Patient = configured.Patient is { } patient ? GatewayOptionsValidator.ParsePatient(patient) : null,
                });
        });
        return app;
    }

    private static List<RouteConfig> Routes(GatewayOptions options) =>
    [
        .. options.Routes.Select(pair => new RouteConfig
        {
            RouteId = pair.Key,
            ClusterId = pair.Value.Cluster,
            Order = pair.Value.Order,
            Match = new RouteMatch { Path = pair.Value.Path, Methods = pair.Value.Methods.Count > 0 ? [.. pair.Value.Methods] : null },
        }),
    ];

    private static List<ClusterConfig> Clusters(GatewayOptions options) =>
    [
        .. options.Clusters.Select(pair => new ClusterConfig
        {
            ClusterId = pair.Key,
            Destinations = pair.Value.Destinations.Select((address, i) => (address, i))
                .ToDictionary(d => $"{pair.Key}-{d.i}", d => new DestinationConfig { Address = d.address }, StringComparer.Ordinal),
            HttpRequest = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(100) },
        }),
    ];
}

/// <summary>The gateway's TLS certificate (its fingerprint is printed at start).</summary>
/// <param name="Certificate">The certificate.</param>
public sealed record GatewayCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate);
