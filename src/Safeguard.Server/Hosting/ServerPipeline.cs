using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.Configuration;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.Discovery;
using Safeguard.Server.Introspection;
using Safeguard.Server.OAuth;
using Safeguard.Server.Revocation;
using Safeguard.Server.SignIn;
using Safeguard.Server.Token;
using Safeguard.Server.UserInfo;

namespace Safeguard.Server.Hosting;

/// <summary>The listener (TLS only, limits, cipher suites) and the request pipeline, from the composed services.</summary>
internal static class ServerPipeline
{
    /// <summary>The connection item that marks a connection to the management endpoint.</summary>
    private const string ManagementConnection = "safeguard.management";

    /// <summary>
    /// Configures Kestrel from <see cref="ServerOptions"/>. Kestrel is configured while the application is built, the
    /// first moment any option is read, so every option is validated here first and all failures are reported together.
    /// </summary>
    public static void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        var services = kestrel.ApplicationServices;
        SafeguardOptionsValidation.ValidateAll(services);
        var server = services.GetRequiredService<IOptions<ServerOptions>>().Value;
        var certificate = services.GetRequiredService<ServerCertificate>();
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = server.Limits.MaxRequestBodySize;
        kestrel.Limits.MaxRequestHeadersTotalSize = server.Limits.MaxRequestHeadersTotalSize;
        kestrel.Limits.MaxRequestHeaderCount = server.Limits.MaxRequestHeaderCount;
        kestrel.Limits.MaxRequestLineSize = 8 * 1024;
        kestrel.Limits.RequestHeadersTimeout = server.Limits.RequestHeadersTimeout;
        kestrel.Limits.MaxConcurrentConnections = server.Limits.MaxConcurrentConnections;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
        ServerOptionsValidator.TryParseEndpoint(server.Listen, Uri.UriSchemeHttps, out var https);
        Listen(kestrel, https, listen => UseHttps(listen, server, certificate));
        if (ServerOptionsValidator.TryParseEndpoint(server.ManagementListen, Uri.UriSchemeHttps, out var management))
        {
            Listen(kestrel, management, listen =>
            {
                // Connections here are marked, and only management paths are served on them (SeparateManagement).
                listen.Use(next => connection =>
                {
                    connection.Items[ManagementConnection] = true;
                    return next(connection);
                });
                UseHttps(listen, server, certificate);
            });
        }

        if (server.HttpRedirectListen is { Length: > 0 } redirect && ServerOptionsValidator.TryParseEndpoint(redirect, Uri.UriSchemeHttp, out var http))
        {
            Listen(kestrel, http, _ => { });
        }
    }

    /// <summary>The product's TLS policy with the server certificate; client certificates allowed (client authentication decides per client), never required.</summary>
    private static void UseHttps(ListenOptions listen, ServerOptions server, ServerCertificate certificate) =>
        listen.UseSafeguardTls(certificate.Certificate, certificate.Chain, server.Tls.AllowClientCertificates);

    /// <summary>The middleware and the endpoints. Endpoint handlers are resolved per request, so nothing is built before the options are validated.</summary>
    public static void UseSafeguardServer(this WebApplication app)
    {
        app.UseRateLimiter();
        app.Use(RedirectPlainHttp);
        app.Use(SeparateManagement);
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = HandleExceptionAsync });
        app.UseHsts();

        app.MapGet("/.well-known/oauth-authorization-server", context => Resolve<DiscoveryEndpoints>(context).MetadataAsync(context));
        app.MapGet("/.well-known/openid-configuration", context => Resolve<DiscoveryEndpoints>(context).MetadataAsync(context));
        app.MapGet(ServerEndpoints.JwksPath, context => Resolve<DiscoveryEndpoints>(context).JwksAsync(context));
        app.MapPost(ServerEndpoints.TokenPath, context => Resolve<TokenEndpoint>(context).HandleAsync(context));
        app.MapPost(ServerEndpoints.RevocationPath, context => Resolve<RevocationEndpoint>(context).HandleAsync(context));
        app.MapPost(ServerEndpoints.IntrospectionPath, context => Resolve<IntrospectionEndpoint>(context).HandleAsync(context));
        app.MapPost(RevocationFeedEndpoint.Path, context => Resolve<RevocationFeedEndpoint>(context).HandleAsync(context));
        app.MapPost(ServerEndpoints.PushedAuthorizationPath, context => Resolve<PushedAuthorizationEndpoint>(context).HandleAsync(context));
        app.MapGet(AuthorizeEndpoint.Path, context => Resolve<AuthorizeEndpoint>(context).HandleAsync(context));
        app.MapMethods(UserInfoEndpoint.Path, [HttpMethods.Get, HttpMethods.Post], context => Resolve<UserInfoEndpoint>(context).HandleAsync(context));
        app.MapGet(PageAssets.StylesheetPath, PageAssets.WriteStylesheetAsync);
        app.MapGet(PageAssets.PasskeyScriptPath, PageAssets.WritePasskeyScriptAsync);
        app.MapRazorPages();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = HealthResponses.WriteAsync });
        app.MapPrometheusScrapingEndpoint("/metrics");
    }

    private static T Resolve<T>(HttpContext context)
        where T : notnull => context.RequestServices.GetRequiredService<T>();

    private static void Listen(KestrelServerOptions kestrel, (IPAddress? Address, bool Localhost, int Port) endpoint, Action<ListenOptions> configure)
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

    /// <summary>
    /// The optional plain-http listener serves nothing: GET and HEAD get a redirect to the issuer with no content; any
    /// other request is refused with 400 and audited, never redirected (a client that sent a secret in clear must
    /// fail, not succeed on the second hop, RFC 9700 section 4.15). On https, <c>/metrics</c> is served only while
    /// <see cref="ServerOptions.Metrics"/> is on.
    /// </summary>
    private static async Task RedirectPlainHttp(HttpContext context, RequestDelegate next)
    {
        if (context.Request.IsHttps)
        {
            if (context.Request.Path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
                && !context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value.Metrics)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context).ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status308PermanentRedirect;
            context.Response.Headers.Location = context.RequestServices.GetRequiredService<ServerEndpoints>().Issuer + context.Request.Path + context.Request.QueryString;
            context.Response.ContentLength = 0;
            return;
        }

        // The body is never read: whatever it carried is not processed.
        await context.RequestServices.GetRequiredService<ServerAudit>().RefuseUnauthenticatedAsync(
            context, AuditEventType.TransportRefused, AuditAction.Execute, StatusCodes.Status400BadRequest, OAuthResponses.InvalidRequest,
            "Plain http is not served; send the request over https (any credential in it went in clear: replace it).",
            SafeguardErrorCodes.PlainHttpRefused, null).ConfigureAwait(false);
    }

    /// <summary>
    /// The management endpoint serves <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> and nothing else; the public
    /// endpoint serves no <c>/readyz</c> or <c>/metrics</c> (they tell an outsider which checks fail and how busy the node
    /// is). <c>/healthz</c> is on both: load balancers need it, and it says only Healthy or Unhealthy.
    /// </summary>
    /// <summary>Whether the request came in on the management endpoint.</summary>
    internal static bool IsManagementConnection(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ManagementConnection) == true;

    private static Task SeparateManagement(HttpContext context, RequestDelegate next)
    {
        var onManagement = IsManagementConnection(context);
        var path = context.Request.Path;
        var managementPath = path.StartsWithSegments("/readyz", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
        var served = onManagement ? managementPath || path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase) : !managementPath;
        if (!served)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    }

    /// <summary>Unhandled failures: a store that is down is 503 (retry later); anything else is 500. Never a stack trace.</summary>
    private static async Task HandleExceptionAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var storeDown = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            storeDown |= e is DbException or TimeoutException or SocketException or AuditUnavailableException;
        }

        storeDown |= !await context.RequestServices.GetRequiredService<ServerAudit>().RecordFailureAsync(context, storeDown, exception?.GetType().Name).ConfigureAwait(false);
        if (storeDown)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await OAuthResponses.WriteErrorAsync(context.Response, storeDown ? 503 : 500,
            storeDown ? OAuthResponses.TemporarilyUnavailable : "server_error",
            storeDown ? "The store is unavailable; retry shortly." : "The server failed to process the request.").ConfigureAwait(false);
    }
}
