using System.Data.Common;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Keys;
using Safeguard.Server.Endpoints;
using Safeguard.Server.Hosting;
using Safeguard.Server.Protocol;
using Safeguard.Server.Services;
using Safeguard.Storage.Audit;
using Safeguard.Storage.Data;
using Safeguard.Tokens;

namespace Safeguard.Server;

/// <summary>Builds and runs the Safeguard authorization server.</summary>
public static class SafeguardServer
{
    /// <summary>Runs the server until it is stopped; configuration errors are printed with what to change.</summary>
    /// <param name="args">Command-line arguments (configuration overrides such as <c>--Safeguard:Listen=https://0.0.0.0:8443</c>).</param>
    /// <param name="cancellationToken">Stops the server.</param>
    /// <returns>0 after a clean stop; 2 for invalid configuration; 1 when start-up failed.</returns>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("Safeguard cannot start; fix the configuration:").ConfigureAwait(false);
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
            }

            return 2;
        }
        catch (KeyProtectionException ex)
        {
            await Console.Error.WriteLineAsync("Safeguard cannot start: " + ex.Message).ConfigureAwait(false);
            return 2;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or DbException or IOException)
            {
                await Console.Error.WriteLineAsync("Safeguard failed to start: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        }

        return 0;
    }

    /// <summary>Builds the application: validates every option (all errors at once), prepares the data folder and TLS, registers services and endpoints.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="configure">A hook for hosts and tests (extra configuration sources, logging).</param>
    /// <returns>The application, not yet started.</returns>
    /// <exception cref="OptionsValidationException">Some option is invalid; the failures say what to change.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args);
        configure?.Invoke(builder);

        var time = TimeProvider.System;
        var section = builder.Configuration.GetSection(ServerOptions.Section);
        var server = section.Get<ServerOptions>() ?? new ServerOptions();
        var database = section.GetSection("Database").Get<DatabaseOptions>() ?? new DatabaseOptions();
        var keyRing = section.GetSection("Keys").Get<KeyRingOptions>() ?? new KeyRingOptions();
        var tokens = section.GetSection("Tokens").Get<AccessTokenOptions>() ?? new AccessTokenOptions();
        var auditOptions = section.GetSection("Audit").Get<AuditOptions>() ?? new AuditOptions();
        var dpopOptions = section.GetSection("Dpop").Get<DpopOptions>() ?? new DpopOptions();

        if (ServerOptionsValidator.TryParseEndpoint(server.Listen, Uri.UriSchemeHttps, out var probe) && probe.Port == 0)
        {
            server.Listen = new UriBuilder(server.Listen) { Port = FreePort(probe.Address ?? IPAddress.Loopback) }.Uri.GetLeftPart(UriPartial.Authority);
        }

        var issuerUrl = server.ResolveIssuer();
        tokens.Issuer = issuerUrl;
        var failures = new List<string>();
        Collect(failures, new ServerOptionsValidator().Validate(null, server));
        Collect(failures, new DatabaseOptionsValidator().Validate(null, database));
        Collect(failures, new KeyRingOptionsValidator().Validate(null, keyRing));
        Collect(failures, new AccessTokenOptionsValidator().Validate(null, tokens));
        Collect(failures, new AuditOptionsValidator().Validate(null, auditOptions));
        Collect(failures, new DpopOptionsValidator().Validate(null, dpopOptions));
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(ServerOptions.Section, typeof(ServerOptions), failures);
        }

        // The data folder (0700) and its key-encryption key (0600, or SAFEGUARD_KEK).
        var dataPath = Path.GetFullPath(server.DataPath, Environment.CurrentDirectory);
        CreatePrivateDirectory(dataPath);
        var protector = KeyEncryptionKeys.ForDataFolder(dataPath);

        var endpoints = new ServerEndpoints(issuerUrl);
        var certificate = TlsCertificates.Load(server.Tls, dataPath, new Uri(issuerUrl).Host, time, out _);
        var developmentCertificate = server.Tls.CertificatePath is null ? Path.Combine(dataPath, TlsCertificates.Folder, "server.crt") : null;
        var serverContext = new ServerContext(endpoints, dataPath, protector, TlsCertificates.Fingerprint(certificate), developmentCertificate);

        ConfigureKestrel(builder, server, certificate);
        var services = builder.Services;
        services.AddSingleton(time);
        services.AddSingleton(server);
        services.AddSingleton(serverContext);
        services.AddSingleton(endpoints);
        services.AddSingleton(_ => SafeguardDatabase.Open(database, dataPath));
        services.AddSingleton<IClientStore, EfClientStore>();
        services.AddSingleton<ISigningKeyStore, EfSigningKeyStore>();
        services.AddSingleton<EfRevocationStore>();
        services.AddSingleton<EfReplayCache>();
        services.AddSingleton<IReplayCache>(sp => sp.GetRequiredService<EfReplayCache>());
        services.AddSingleton<IKeyProtector>(protector);
        services.AddSingleton(Options.Create(keyRing));
        services.AddSingleton(Options.Create(tokens));
        services.AddSingleton(Options.Create(dpopOptions));
        services.AddSingleton(Options.Create(auditOptions));
        services.AddSingleton(Options.Create(new AccessTokenValidationOptions { Issuer = issuerUrl, Audiences = { issuerUrl } }));
        services.AddSingleton<SigningKeyRing>();
        services.AddSingleton<AccessTokenIssuer>();
        services.AddSingleton(sp => new AccessTokenValidator(
            sp.GetRequiredService<SigningKeyRing>(), sp.GetRequiredService<IOptions<AccessTokenValidationOptions>>(), time,
            sp.GetRequiredService<ILogger<AccessTokenValidator>>(), sp.GetRequiredService<RevocationService>().List));
        services.AddSingleton(sp =>
        {
            var key = protector.DeriveKey("safeguard dpop nonce", 32);
            return new DpopNonces(key, dpopOptions.NonceStep, time);
        });
        services.AddSingleton<DpopProofValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<SafeguardDatabase>().OpenAuditStore());
        services.AddSingleton(sp => new AuditWriter(
            sp.GetRequiredService<IAuditStore>(),
            new AuditSigningKeys(new FileSigningKeyStore(Path.Combine(dataPath, "audit-keys")), protector, time),
            new DirectoryCheckpointSink(Path.Combine(dataPath, "audit-checkpoints")),
            Options.Create(auditOptions), time, sp.GetRequiredService<ILogger<AuditWriter>>()));
        services.AddSingleton<ServerAudit>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<ClientRegistry>();
        services.AddSingleton<RevocationService>();
        services.AddSingleton(TlsCertificates.ClientAuthorities(server.Tls));
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<TokenEndpoint>();
        services.AddSingleton<RevocationEndpoints>();
        services.AddSingleton<DiscoveryEndpoints>();
        services.AddSingleton<KeyMaintenanceService>();

        // Start-up order: schema, audit, keys, clients; then the background loops; then Kestrel.
        services.AddHostedService<ServerStartup>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyMaintenanceService>());
        services.AddHostedService<SyncService>();

        services.AddHsts(hsts =>
        {
            hsts.MaxAge = TimeSpan.FromDays(365);
            hsts.IncludeSubDomains = true;
            hsts.ExcludedHosts.Clear();
        });
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", tags: ["ready"])
            .AddCheck<AuditHealthCheck>("audit", tags: ["ready"])
            .AddCheck<SigningKeyHealthCheck>("signing_key", tags: ["ready"]);
        if (server.Metrics)
        {
            services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(ServerMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddPrometheusExporter());
        }

        var app = builder.Build();
        app.Use(RedirectPlainHttp(endpoints));
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = HandleExceptionAsync });
        app.UseHsts();

        var discovery = app.Services.GetRequiredService<DiscoveryEndpoints>();
        app.MapGet("/.well-known/oauth-authorization-server", discovery.MetadataAsync);
        app.MapGet("/.well-known/openid-configuration", discovery.MetadataAsync);
        app.MapGet(ServerEndpoints.JwksPath, discovery.JwksAsync);
        var token = app.Services.GetRequiredService<TokenEndpoint>();
        app.MapPost(ServerEndpoints.TokenPath, token.HandleAsync);
        var revocation = app.Services.GetRequiredService<RevocationEndpoints>();
        app.MapPost(ServerEndpoints.RevocationPath, revocation.RevokeAsync);
        app.MapPost(ServerEndpoints.IntrospectionPath, revocation.IntrospectAsync);
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = HealthResponses.WriteAsync });
        if (server.Metrics)
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
        }

        return app;
    }

    private static void ConfigureKestrel(WebApplicationBuilder builder, ServerOptions server, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = server.Limits.MaxRequestBodySize;
            kestrel.Limits.MaxRequestHeadersTotalSize = server.Limits.MaxRequestHeadersTotalSize;
            kestrel.Limits.MaxRequestHeaderCount = server.Limits.MaxRequestHeaderCount;
            kestrel.Limits.MaxRequestLineSize = 8 * 1024;
            ServerOptionsValidator.TryParseEndpoint(server.Listen, Uri.UriSchemeHttps, out var https);
            Listen(kestrel, https, listen => listen.UseHttps(options =>
            {
                options.ServerCertificate = certificate;
                options.ServerCertificateChain = TlsCertificates.Intermediates(server.Tls);
                options.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                options.ClientCertificateMode = server.Tls.AllowClientCertificates ? ClientCertificateMode.AllowCertificate : ClientCertificateMode.NoCertificate;

                // The handshake accepts any client certificate; client authentication decides per client (a chain to
                // Tls:ClientCaPath and the registered subject, or the pinned certificate). Other requests ignore it.
                options.ClientCertificateValidation = (_, _, _) => true;
                options.OnAuthenticate = (_, ssl) =>
                {
                    if (!OperatingSystem.IsWindows())
                    {
                        ssl.CipherSuitesPolicy = new CipherSuitesPolicy(TlsCertificates.CipherSuites);
                    }
                };
            }));
            if (server.HttpRedirectListen is { Length: > 0 } redirect && ServerOptionsValidator.TryParseEndpoint(redirect, Uri.UriSchemeHttp, out var http))
            {
                Listen(kestrel, http, _ => { });
            }
        });
    }

    private static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, (IPAddress? Address, bool Localhost, int Port) endpoint, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure)
    {
        if (endpoint.Localhost)
        {
            kestrel.ListenLocalhost(endpoint.Port, configure);
        }
        else
        {
            kestrel.Listen(endpoint.Address!, endpoint.Port, configure);
        }
    }

    /// <summary>The optional plain-http listener answers every request with a redirect to the issuer and no content.</summary>
    private static Func<HttpContext, RequestDelegate, Task> RedirectPlainHttp(ServerEndpoints endpoints) => (context, next) =>
    {
        if (context.Request.IsHttps)
        {
            return next(context);
        }

        context.Response.StatusCode = StatusCodes.Status308PermanentRedirect;
        context.Response.Headers.Location = endpoints.Issuer + context.Request.Path + context.Request.QueryString;
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    };

    /// <summary>Unhandled failures: a store that is down is 503 (retry later); anything else is 500. Never a stack trace.</summary>
    private static async Task HandleExceptionAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var storeDown = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            storeDown |= e is DbException or TimeoutException or SocketException or AuditUnavailableException;
        }

        // Queued (TryAppend survives an outage of the store); the failure's type is recorded, never its message.
        var audit = context.RequestServices.GetRequiredService<ServerAudit>();
        audit.Writer.TryAppend(audit.Create(context, AuditEventType.TokenRefused, AuditOutcome.Error, null, storeDown
            ? $"{SafeguardErrorCodes.StoreUnavailable} temporarily_unavailable: the store could not be reached"
            : $"server_error: unhandled {exception?.GetType().Name}", storeDown ? 503 : 500));
        if (storeDown)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await OAuthResponses.WriteErrorAsync(context.Response, storeDown ? 503 : 500,
            storeDown ? OAuthResponses.TemporarilyUnavailable : "server_error",
            storeDown ? "The store is unavailable; retry shortly." : "The server failed to process the request.").ConfigureAwait(false);
    }

    private static void Collect(List<string> failures, ValidateOptionsResult result)
    {
        if (result.Failed)
        {
            failures.AddRange(result.Failures);
        }
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static int FreePort(IPAddress address)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address.Equals(IPAddress.Any) ? IPAddress.Loopback : address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
