using System.Net;
using Microsoft.Extensions.Options;

namespace Safeguard.Server.Configuration;

/// <summary>
/// The server's part of the <c>Safeguard</c> configuration section: where it listens, what it calls itself, and its
/// limits. (The data folder, keys, tokens, DPoP, audit and database have sections of their own, bound by
/// <c>AddSafeguardCore</c> and <c>AddSafeguardStorage</c>.)
/// </summary>
public sealed record ServerOptions
{
    /// <summary>The HTTPS endpoint, <c>https://host:port</c>. Default <c>https://127.0.0.1:5443</c>. Port 0 picks a free port.</summary>
    public string Listen { get; set; } = "https://127.0.0.1:5443";

    /// <summary>
    /// The issuer: the https origin clients see (behind a load balancer, its public name). Default: the
    /// <see cref="Listen"/> origin. Endpoint URLs in discovery are built from it.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>
    /// The management endpoint (<c>https://host:port</c>), the only place <c>/readyz</c> and <c>/metrics</c> are served
    /// (with <c>/healthz</c>); nothing else is served there. Default <c>https://127.0.0.1:5444</c>, this machine only.
    /// Empty to serve no management endpoint. Port 0 picks a free port.
    /// </summary>
    public string? ManagementListen { get; set; } = "https://127.0.0.1:5444";

    /// <summary>An optional plain-http endpoint (<c>http://host:port</c>) that only redirects to https and serves nothing else. Default none.</summary>
    public string? HttpRedirectListen { get; set; }

    /// <summary>TLS settings.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Request limits.</summary>
    public LimitOptions Limits { get; set; } = new();

    /// <summary>Rate limits, applied before anything else reads a request.</summary>
    public RateLimitOptions RateLimits { get; set; } = new();

    /// <summary>How often each node reloads changed clients (a disabled client stops working within this). Default 2 s.</summary>
    public TimeSpan ClientRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often each node pulls revocations made on other nodes. Default 2 s.</summary>
    public TimeSpan RevocationSyncInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the key ring is maintained (rotation on one node, reload on the others). Default 10 s.</summary>
    public TimeSpan KeyMaintenanceInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether <c>/metrics</c> (Prometheus text format) is served. Default true.</summary>
    public bool Metrics { get; set; } = true;

    /// <summary>The effective issuer.</summary>
    /// <param name="boundPort">The port actually bound, when <see cref="Listen"/> asked for port 0.</param>
    /// <returns>The issuer URL, without a trailing slash.</returns>
    public string ResolveIssuer(int? boundPort = null)
    {
        if (Issuer is { Length: > 0 } configured)
        {
            return configured.TrimEnd('/');
        }

        var listen = new Uri(Listen);
        var port = boundPort ?? listen.Port;
        var host = listen.Host is "0.0.0.0" or "[::]" or "*" or "+" ? "localhost" : listen.Host;
        return port == 443 ? $"https://{host}" : $"https://{host}:{port}";
    }
}

/// <summary>The <c>Safeguard:Tls</c> section.</summary>
public sealed record TlsOptions
{
    /// <summary>The certificate chain, PEM. With none (and no key), a self-signed development certificate is created in the data folder.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The certificate's private key, PEM (PKCS#8 or SEC1/PKCS#1).</summary>
    public string? KeyPath { get; set; }

    /// <summary>Whether clients may present certificates (needed for the mutual-TLS methods). Default true; certificates are never required.</summary>
    public bool AllowClientCertificates { get; set; } = true;

    /// <summary>
    /// PEM bundle of the CAs whose client certificates <c>tls_client_auth</c> accepts (chain built to one of them,
    /// client-authentication EKU, valid now). None: <c>tls_client_auth</c> clients cannot authenticate;
    /// <c>self_signed_tls_client_auth</c> (pinned certificates) needs no CA.
    /// </summary>
    public string? ClientCaPath { get; set; }
}

/// <summary>The <c>Safeguard:Limits</c> section: what a request may weigh before it is refused.</summary>
public sealed record LimitOptions
{
    /// <summary>The largest request body, bytes. Default 16 KiB: a token request is a few hundred bytes.</summary>
    public long MaxRequestBodySize { get; set; } = 16 * 1024;

    /// <summary>The largest total of request headers, bytes. Default 16 KiB.</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 16 * 1024;

    /// <summary>The most request headers. Default 64.</summary>
    public int MaxRequestHeaderCount { get; set; } = 64;

    /// <summary>How long a client may take to send its request headers before it gets 408 and is disconnected (slow-header attacks). Default 10 s.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most connections open at once (each costs a socket and a TLS session); beyond it new ones are refused. Default 10,000.</summary>
    public long MaxConcurrentConnections { get; set; } = 10_000;
}

/// <summary>
/// The <c>Safeguard:RateLimits</c> section: token buckets per source address and for the whole node, applied to every
/// request on the public endpoint (except <c>/healthz</c>) before its form is read or its client authenticated. A
/// request over a limit gets 429 with <c>Retry-After</c>. Zero turns a limit off.
/// </summary>
public sealed record RateLimitOptions
{
    /// <summary>Requests per second one source address may make, on average. Default 100.</summary>
    public int PerAddressPerSecond { get; set; } = 100;

    /// <summary>How many requests one source address may make at once after a quiet spell. Default 200.</summary>
    public int PerAddressBurst { get; set; } = 200;

    /// <summary>Requests per second the node takes from everyone together. Default 20,000.</summary>
    public int GlobalPerSecond { get; set; } = 20_000;

    /// <summary>The node's burst. Default 40,000.</summary>
    public int GlobalBurst { get; set; } = 40_000;

    /// <summary>
    /// Refusals of unauthenticated requests that repeat (same source, kind and reason) within this window are recorded
    /// once, then as one summary event with a count when the window ends. Default 1 minute.
    /// </summary>
    public TimeSpan RefusalSummaryWindow { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Checks <see cref="ServerOptions"/>, reporting every error with what to change.</summary>
public sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!TryParseEndpoint(options.Listen, Uri.UriSchemeHttps, out var listen))
        {
            errors.Add($"Safeguard:Listen is '{options.Listen}'; set an https endpoint such as https://127.0.0.1:5443 (plain http is not served).");
        }
        else if (!listen.Localhost && !IPAddress.IsLoopback(listen.Address!))
        {
            // Beyond loopback, the defaults made for a developer's machine are unsafe: an issuer derived from the bind
            // address, and a self-signed certificate nobody can verify.
            if (string.IsNullOrWhiteSpace(options.Issuer))
            {
                errors.Add($"Safeguard:Listen is '{options.Listen}', reachable from other machines; set Safeguard:Issuer to the https origin clients use (the issuer derived from Listen is for loopback only).");
            }

            if (options.Tls.CertificatePath is null)
            {
                errors.Add($"Safeguard:Listen is '{options.Listen}', reachable from other machines; set Safeguard:Tls:CertificatePath and Safeguard:Tls:KeyPath to a real certificate (the self-signed development certificate is for loopback only).");
            }
        }

        if (options.ManagementListen is { Length: > 0 } management)
        {
            if (!TryParseEndpoint(management, Uri.UriSchemeHttps, out var endpoint))
            {
                errors.Add($"Safeguard:ManagementListen is '{management}'; set an https endpoint such as https://127.0.0.1:5444, or empty for none.");
            }
            else if (endpoint.Port != 0 && TryParseEndpoint(options.Listen, Uri.UriSchemeHttps, out var served) && served.Port == endpoint.Port)
            {
                errors.Add($"Safeguard:ManagementListen is '{management}', the port of Safeguard:Listen; give management its own port (it serves /readyz and /metrics, which the public endpoint does not).");
            }
            else if (!endpoint.Localhost && !IPAddress.IsLoopback(endpoint.Address!) && options.Tls.CertificatePath is null)
            {
                errors.Add($"Safeguard:ManagementListen is '{management}', reachable from other machines; set Safeguard:Tls:CertificatePath and Safeguard:Tls:KeyPath to a real certificate (the self-signed development certificate is for loopback only).");
            }
        }

        if (options.HttpRedirectListen is { Length: > 0 } redirect && !TryParseEndpoint(redirect, Uri.UriSchemeHttp, out _))
        {
            errors.Add($"Safeguard:HttpRedirectListen is '{redirect}'; set an http endpoint such as http://0.0.0.0:80, or remove it.");
        }

        if (options.Issuer is { Length: > 0 } issuer
            && (!Uri.TryCreate(issuer, UriKind.Absolute, out var issuerUri) || issuerUri.Scheme != Uri.UriSchemeHttps
                || issuerUri.AbsolutePath != "/" || issuerUri.Query.Length > 0 || issuerUri.Fragment.Length > 0 || issuerUri.UserInfo.Length > 0))
        {
            errors.Add($"Safeguard:Issuer is '{issuer}'; set the https origin clients use, such as https://auth.example.org (no path, query or fragment).");
        }

        if ((options.Tls.CertificatePath is null) != (options.Tls.KeyPath is null))
        {
            errors.Add("Safeguard:Tls needs both CertificatePath and KeyPath (PEM files), or neither for the development certificate.");
        }

        foreach (var (value, label) in new[] { (options.Tls.CertificatePath, "CertificatePath"), (options.Tls.KeyPath, "KeyPath"), (options.Tls.ClientCaPath, "ClientCaPath") })
        {
            if (value is not null && !File.Exists(value))
            {
                errors.Add($"Safeguard:Tls:{label} is '{value}', which does not exist; set the path of a PEM file.");
            }
        }

        if (options.Tls.ClientCaPath is { } caPath && File.Exists(caPath) && !File.ReadAllText(caPath).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            errors.Add($"Safeguard:Tls:ClientCaPath is '{caPath}', which holds no PEM certificate; set a bundle of the client CAs' certificates, or remove it.");
        }

        if (options.Limits.MaxRequestBodySize is < 1024 or > 1024 * 1024)
        {
            errors.Add($"Safeguard:Limits:MaxRequestBodySize is {options.Limits.MaxRequestBodySize}; set 1024 to 1048576 bytes.");
        }

        if (options.Limits.MaxRequestHeadersTotalSize is < 4096 or > 64 * 1024)
        {
            errors.Add($"Safeguard:Limits:MaxRequestHeadersTotalSize is {options.Limits.MaxRequestHeadersTotalSize}; set 4096 to 65536 bytes.");
        }

        var rates = options.RateLimits;
        foreach (var (limit, perSecond, burst) in new[] { ("PerAddress", rates.PerAddressPerSecond, rates.PerAddressBurst), ("Global", rates.GlobalPerSecond, rates.GlobalBurst) })
        {
            if (perSecond < 0 || burst < 0 || (perSecond > 0) != (burst > 0) || (perSecond > 0 && burst < perSecond))
            {
                errors.Add($"Safeguard:RateLimits:{limit}PerSecond is {perSecond} and {limit}Burst {burst}; set both to 0 (no limit), or a rate of at least 1 and a burst at least as large.");
            }
        }

        if (rates.RefusalSummaryWindow < TimeSpan.FromSeconds(1) || rates.RefusalSummaryWindow > TimeSpan.FromHours(1))
        {
            errors.Add($"Safeguard:RateLimits:RefusalSummaryWindow is {rates.RefusalSummaryWindow}; use 00:00:01 to 01:00:00.");
        }

        if (options.Limits.RequestHeadersTimeout < TimeSpan.FromSeconds(1) || options.Limits.RequestHeadersTimeout > TimeSpan.FromMinutes(2))
        {
            errors.Add($"Safeguard:Limits:RequestHeadersTimeout is {options.Limits.RequestHeadersTimeout}; use 00:00:01 to 00:02:00.");
        }

        if (options.Limits.MaxConcurrentConnections is < 16 or > 1_000_000)
        {
            errors.Add($"Safeguard:Limits:MaxConcurrentConnections is {options.Limits.MaxConcurrentConnections}; use 16 to 1,000,000.");
        }

        if (options.Limits.MaxRequestHeaderCount is < 16 or > 256)
        {
            errors.Add($"Safeguard:Limits:MaxRequestHeaderCount is {options.Limits.MaxRequestHeaderCount}; set 16 to 256.");
        }

        foreach (var (value, label) in new[]
        {
            (options.ClientRefreshInterval, "ClientRefreshInterval"), (options.RevocationSyncInterval, "RevocationSyncInterval"),
            (options.KeyMaintenanceInterval, "KeyMaintenanceInterval"),
        })
        {
            if (value < TimeSpan.FromMilliseconds(100) || value > TimeSpan.FromMinutes(5))
            {
                errors.Add($"Safeguard:{label} is {value}; set 00:00:00.1 to 00:05:00.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Parses <c>scheme://host:port</c> into an endpoint; host may be an IP, <c>localhost</c>, or <c>0.0.0.0</c>/<c>*</c> for all.</summary>
    internal static bool TryParseEndpoint(string? value, string scheme, out (IPAddress? Address, bool Localhost, int Port) endpoint)
    {
        endpoint = default;
        if (value is null)
        {
            return false;
        }

        var normalized = value.Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Scheme != scheme || uri.AbsolutePath != "/" || uri.Query.Length > 0)
        {
            return false;
        }

        if (uri.IsDefaultPort && !normalized.Contains(":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))
        {
            // An explicit port is required, so nobody binds 443 by accident.
            return false;
        }

        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            endpoint = (null, true, uri.Port);
            return true;
        }

        if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            endpoint = (address, false, uri.Port);
            return true;
        }

        return false;
    }
}

/// <summary>
/// Resolves <see cref="ServerOptions.Listen"/> (and <see cref="ServerOptions.ManagementListen"/>) port 0 to a free port once, when the options are first built, so the
/// listener, the issuer and every URL derived from it agree.
/// </summary>
internal sealed class ServerOptionsSetup : IPostConfigureOptions<ServerOptions>
{
    public void PostConfigure(string? name, ServerOptions options)
    {
        if (ServerOptionsValidator.TryParseEndpoint(options.Listen, Uri.UriSchemeHttps, out var endpoint) && endpoint.Port == 0)
        {
            options.Listen = new UriBuilder(options.Listen) { Port = FreePort(endpoint.Address ?? IPAddress.Loopback) }.Uri.GetLeftPart(UriPartial.Authority);
        }

        if (ServerOptionsValidator.TryParseEndpoint(options.ManagementListen, Uri.UriSchemeHttps, out var management) && management.Port == 0)
        {
            // Each probe socket is closed before the next is bound, so the system may offer the same port twice: never
            // give the management endpoint the public one.
            var listenPort = ServerOptionsValidator.TryParseEndpoint(options.Listen, Uri.UriSchemeHttps, out var listen) ? listen.Port : -1;
            int port;
            do
            {
                port = FreePort(management.Address ?? IPAddress.Loopback);
            }
            while (port == listenPort);

            options.ManagementListen = new UriBuilder(options.ManagementListen!) { Port = port }.Uri.GetLeftPart(UriPartial.Authority);
        }
    }

    private static int FreePort(IPAddress address)
    {
        using var socket = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address.Equals(IPAddress.Any) ? IPAddress.Loopback : address, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
