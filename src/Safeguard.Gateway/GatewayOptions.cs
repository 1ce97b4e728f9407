using System.Net;
using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;

namespace Safeguard.Gateway;

/// <summary>
/// The gateway's configuration: the <c>Gateway</c> section of <c>gateway.json</c> (or appsettings). Every route names
/// what a request needs to pass (scopes, roles, acr, sign-in age, DPoP) and how it is audited; every cluster where
/// requests go. All of it is validated at start-up with every error reported.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Gateway";

    /// <summary>Where the gateway listens: https URLs only, such as <c>https://0.0.0.0:8443</c>.</summary>
    public IList<string> Listen { get; } = [];

    /// <summary>The certificate (PEM, leaf first) and key; both unset for a self-signed development certificate in <see cref="DataPath"/>.</summary>
    public GatewayTlsOptions Tls { get; set; } = new();

    /// <summary>The gateway's data folder: its key-encryption key, audit key, SQLite audit trail and development certificate.</summary>
    public string DataPath { get; set; } = string.Empty;

    /// <summary>The Safeguard server's issuer (https): tokens must carry it as <c>iss</c>; keys come from its discovery and JWKS.</summary>
    public string Authority { get; set; } = string.Empty;

    /// <summary>
    /// The SHA-256 fingerprint of the authority's certificate, pinned instead of the system trust store (for a server on
    /// its development certificate: <c>safeguard</c> prints it). Colons optional.
    /// </summary>
    public string? AuthorityCertificateSha256 { get; set; }

    /// <summary>
    /// The authority's certificate as a PEM file, pinned instead of the system trust store (such as the server's
    /// development certificate <c>data/tls/server.crt</c>). At most one of this and <see cref="AuthorityCertificateSha256"/>.
    /// </summary>
    public string? AuthorityCertificatePath { get; set; }

    /// <summary>The resource these routes are: tokens must carry it in <c>aud</c>.</summary>
    public string Audience { get; set; } = string.Empty;

    /// <summary>The client the gateway follows the authority's revocation feed as (a client registered with <c>--introspect</c> for <see cref="Audience"/>).</summary>
    public GatewayRevocationFeedOptions RevocationFeed { get; set; } = new();

    /// <summary>The trail and its modes.</summary>
    public GatewayAuditOptions Audit { get; set; } = new();

    /// <summary>
    /// The prefix of the headers that carry the verified identity to upstreams (<c>X-Safeguard-Subject</c>,
    /// <c>-Client-Id</c>, <c>-Scope</c>, <c>-Roles</c>, <c>-Session</c>, <c>-Acr</c>, <c>-Token-Id</c>). Any header a
    /// client sends with this prefix is dropped first.
    /// </summary>
    public string IdentityHeaderPrefix { get; set; } = "X-Safeguard-";

    /// <summary>
    /// Also send the verified identity as a short-lived signed assertion in <c>{IdentityHeaderPrefix}Assertion</c>
    /// (ES256, 60 s, audience the cluster id; the key at <c>/.safeguard/jwks</c>), for upstreams that would rather
    /// verify a signature than trust headers from the network. Default false.
    /// </summary>
    public bool IdentityAssertion { get; set; }

    /// <summary>More header prefixes to drop from client requests, beyond the built-in ones (<c>X-Forwarded-</c>, <c>Forwarded</c>, <c>X-User-</c>, <c>X-Client-Cert</c>, <c>X-Real-IP</c>).</summary>
    public IList<string> StripHeaderPrefixes { get; } = [];

    /// <summary>Whether the client's <c>Authorization</c> (and <c>DPoP</c>) headers go on to the upstream. Default false: the token stops here.</summary>
    public bool ForwardAuthorization { get; set; }

    /// <summary>The routes, by id.</summary>
    public IDictionary<string, GatewayRoute> Routes { get; } = new Dictionary<string, GatewayRoute>(StringComparer.Ordinal);

    /// <summary>The clusters, by id.</summary>
    public IDictionary<string, GatewayCluster> Clusters { get; } = new Dictionary<string, GatewayCluster>(StringComparer.Ordinal);
}

/// <summary>The revocation feed's client: both set to follow it (recommended), neither to rely on token expiry alone.</summary>
public sealed class GatewayRevocationFeedOptions
{
    /// <summary>The client id.</summary>
    public string? ClientId { get; set; }

    /// <summary>Its secret (better from the environment: <c>SAFEGUARD_Gateway__RevocationFeed__ClientSecret</c>).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>How long the feed may be unreachable before tokens issued before the outage are refused (default 10 s).</summary>
    public TimeSpan OutageBound { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The gateway's certificate.</summary>
public sealed class GatewayTlsOptions
{
    /// <summary>The certificate PEM (leaf first, then intermediates).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Its private key PEM.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Whether clients may present a certificate (for certificate-bound tokens). Default true; never required.</summary>
    public bool AllowClientCertificates { get; set; } = true;
}

/// <summary>The gateway's audit trail.</summary>
public sealed class GatewayAuditOptions
{
    /// <summary>The mode of routes that name none. Default Durable.</summary>
    public SafeguardAuditMode DefaultMode { get; set; } = SafeguardAuditMode.Durable;

    /// <summary>PostgreSQL for the trail; null for SQLite in the data folder.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>The chain; null for the folder's default.</summary>
    public string? ChainId { get; set; }

    /// <summary>The longest a Buffered event may wait to commit (at most 1 s).</summary>
    public TimeSpan BufferedCommitBound { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest a Durable request waits for its event.</summary>
    public TimeSpan DurableCommitTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>One route: which requests, where they go, what they need.</summary>
public sealed class GatewayRoute
{
    /// <summary>The path pattern (ASP.NET Core route syntax), such as <c>/fhir/{**rest}</c>.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>The methods (empty: all).</summary>
    public IList<string> Methods { get; } = [];

    /// <summary>The cluster requests go to.</summary>
    public string Cluster { get; set; } = string.Empty;

    /// <summary>Scopes the token must all carry (at least one).</summary>
    public IList<string> Scopes { get; } = [];

    /// <summary>Roles of which the token must carry one (empty: any).</summary>
    public IList<string> Roles { get; } = [];

    /// <summary>Acceptable <c>acr</c> values (empty: any), such as <c>http://idmanagement.gov/ns/assurance/aal/2</c> for MFA.</summary>
    public IList<string> Acr { get; } = [];

    /// <summary>The greatest age of the sign-in behind the token (<c>auth_time</c>); null: any.</summary>
    public TimeSpan? MaxAge { get; set; }

    /// <summary>Whether the token must be DPoP-bound and presented with a proof.</summary>
    public bool RequireDpop { get; set; }

    /// <summary>Durable or Buffered; null for the default.</summary>
    public SafeguardAuditMode? Audit { get; set; }

    /// <summary>Whether the route is FHIR REST (the audit records type, id and patient from the path).</summary>
    public bool Fhir { get; set; }

    /// <summary>The path before the FHIR type, such as <c>/fhir</c>.</summary>
    public string FhirBase { get; set; } = string.Empty;

    /// <summary>Where requests name the patient for the audit: <c>route:NAME</c>, <c>query:NAME</c> or <c>header:NAME</c>.</summary>
    public string? Patient { get; set; }

    /// <summary>The route's order among overlapping ones (lower first).</summary>
    public int? Order { get; set; }
}

/// <summary>One cluster: where requests go.</summary>
public sealed class GatewayCluster
{
    /// <summary>The destination addresses (load-balanced), such as <c>https://ehr.internal:9443</c>.</summary>
    public IList<string> Destinations { get; } = [];

    /// <summary>Allows plain http to a destination that is not loopback. Default false: TLS is required off the machine.</summary>
    public bool AllowInsecure { get; set; }

    /// <summary>The SHA-256 fingerprint of the upstream's certificate, pinned instead of the system trust store.</summary>
    public string? CertificateSha256 { get; set; }
}

/// <summary>Checks <see cref="GatewayOptions"/> at start-up, every problem at once.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Listen.Count == 0)
        {
            errors.Add("Gateway:Listen names no address; set at least one https URL, such as https://0.0.0.0:8443.");
        }

        foreach (var listen in options.Listen)
        {
            if (!Uri.TryCreate(listen, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || uri.AbsolutePath != "/")
            {
                errors.Add($"Gateway:Listen '{listen}' is not an https address such as https://0.0.0.0:8443 (the gateway serves TLS only).");
            }
        }

        if ((options.Tls.CertificatePath is null) != (options.Tls.KeyPath is null))
        {
            errors.Add("Gateway:Tls: set both CertificatePath and KeyPath, or neither for a development certificate.");
        }
        else if (options.Tls.CertificatePath is { } certificate && (!File.Exists(certificate) || !File.Exists(options.Tls.KeyPath)))
        {
            errors.Add($"Gateway:Tls: '{certificate}' or '{options.Tls.KeyPath}' does not exist.");
        }

        if (string.IsNullOrWhiteSpace(options.DataPath))
        {
            errors.Add("Gateway:DataPath must name the gateway's data folder (its audit trail and keys).");
        }

        if (!Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) || authority.Scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"Gateway:Authority '{options.Authority}' must be the https issuer of the Safeguard server.");
        }

        if (options.AuthorityCertificateSha256 is { } pin && Fingerprint.Normalize(pin) is null)
        {
            errors.Add("Gateway:AuthorityCertificateSha256 must be a SHA-256 fingerprint (64 hex digits, colons allowed).");
        }

        if (options.AuthorityCertificatePath is { } pem)
        {
            if (options.AuthorityCertificateSha256 is not null)
            {
                errors.Add("Gateway: set AuthorityCertificatePath or AuthorityCertificateSha256, not both.");
            }
            else if (Fingerprint.OfPemFile(pem) is null)
            {
                errors.Add($"Gateway:AuthorityCertificatePath '{pem}' is not a readable PEM certificate.");
            }
        }

        if ((options.RevocationFeed.ClientId is null) != (options.RevocationFeed.ClientSecret is null))
        {
            errors.Add("Gateway:RevocationFeed: set both ClientId and ClientSecret, or neither.");
        }

        if (options.RevocationFeed.OutageBound < TimeSpan.FromSeconds(2) || options.RevocationFeed.OutageBound > TimeSpan.FromMinutes(10))
        {
            errors.Add($"Gateway:RevocationFeed:OutageBound is {options.RevocationFeed.OutageBound}; set 00:00:02 to 00:10:00.");
        }

        if (string.IsNullOrWhiteSpace(options.Audience))
        {
            errors.Add("Gateway:Audience must name the resource these routes are (the aud their tokens carry).");
        }

        if (!Enum.IsDefined(options.Audit.DefaultMode))
        {
            errors.Add($"Gateway:Audit:DefaultMode is {options.Audit.DefaultMode}; use Durable or Buffered.");
        }

        if (!IsHeaderPrefix(options.IdentityHeaderPrefix))
        {
            errors.Add($"Gateway:IdentityHeaderPrefix '{options.IdentityHeaderPrefix}' must be a header name prefix such as X-Safeguard-.");
        }

        foreach (var prefix in options.StripHeaderPrefixes.Where(p => !IsHeaderPrefix(p)))
        {
            errors.Add($"Gateway:StripHeaderPrefixes '{prefix}' is not a header name prefix.");
        }

        if (options.Routes.Count == 0)
        {
            errors.Add("Gateway:Routes is empty; name at least one route.");
        }

        foreach (var (id, route) in options.Routes)
        {
            ValidateRoute(id, route, options, errors);
        }

        if (options.Clusters.Count == 0)
        {
            errors.Add("Gateway:Clusters is empty; name at least one cluster.");
        }

        foreach (var (id, cluster) in options.Clusters)
        {
            ValidateCluster(id, cluster, errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRoute(string id, GatewayRoute route, GatewayOptions options, List<string> errors)
    {
        var at = $"Gateway:Routes:{id}";
        if (!route.Path.StartsWith('/'))
        {
            errors.Add($"{at}:Path '{route.Path}' must start with '/'.");
        }
        else
        {
            try
            {
                Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse(route.Path);
            }
            catch (Microsoft.AspNetCore.Routing.Patterns.RoutePatternException ex)
            {
                errors.Add($"{at}:Path '{route.Path}' is not a route pattern: {ex.Message}");
            }
        }

        if (!options.Clusters.ContainsKey(route.Cluster))
        {
            errors.Add($"{at}:Cluster '{route.Cluster}' is not one of Gateway:Clusters.");
        }

        if (route.Scopes.Count == 0 || route.Scopes.Any(s => s.Length == 0 || s.Any(c => c is ' ' or '"' or '\\' || char.IsControl(c))))
        {
            errors.Add($"{at}:Scopes must name at least one scope (no spaces or quotes): every route requires a scope.");
        }

        if (route.Roles.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{at}:Roles has an empty role.");
        }

        if (route.Acr.Any(a => a.Length == 0 || a.Any(c => c is ' ' or '"' || char.IsControl(c))))
        {
            errors.Add($"{at}:Acr has a value that is empty or holds spaces or quotes.");
        }

        if (route.MaxAge is { } age && (age <= TimeSpan.Zero || age > TimeSpan.FromDays(1)))
        {
            errors.Add($"{at}:MaxAge is {age}; set 00:00:01 to 1.00:00:00, or remove it.");
        }

        if (route.Audit is { } mode && !Enum.IsDefined(mode))
        {
            errors.Add($"{at}:Audit is {mode}; use Durable or Buffered.");
        }

        if (route.Methods.Any(m => m.Length == 0 || !m.All(char.IsAsciiLetterUpper)))
        {
            errors.Add($"{at}:Methods must be upper-case HTTP methods such as GET.");
        }

        if (route.Fhir && route.FhirBase.Length > 0 && (!route.FhirBase.StartsWith('/') || route.FhirBase.EndsWith('/')))
        {
            errors.Add($"{at}:FhirBase '{route.FhirBase}' must start with '/' and not end with one (such as /fhir).");
        }

        if (route.Patient is { } patient && ParsePatient(patient) is null)
        {
            errors.Add($"{at}:Patient '{patient}' must be route:NAME, query:NAME or header:NAME.");
        }
    }

    private static void ValidateCluster(string id, GatewayCluster cluster, List<string> errors)
    {
        var at = $"Gateway:Clusters:{id}";
        if (cluster.Destinations.Count == 0)
        {
            errors.Add($"{at}:Destinations is empty; name at least one address.");
        }

        foreach (var destination in cluster.Destinations)
        {
            if (!Uri.TryCreate(destination, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
                || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            {
                errors.Add($"{at}: destination '{destination}' is not an http(s) address without credentials, query or fragment.");
            }
            else if (uri.Scheme == Uri.UriSchemeHttp && !cluster.AllowInsecure && !IsLoopback(uri))
            {
                errors.Add($"{at}: destination '{destination}' is plain http off this machine; use https, or set AllowInsecure if the network between is protected otherwise.");
            }
        }

        if (cluster.CertificateSha256 is { } pin && Fingerprint.Normalize(pin) is null)
        {
            errors.Add($"{at}:CertificateSha256 must be a SHA-256 fingerprint (64 hex digits, colons allowed).");
        }
    }

    /// <summary>A patient source from its configured form.</summary>
    internal static SafeguardPatientSource? ParsePatient(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            return null;
        }

        var name = text[(colon + 1)..];
        return text[..colon] switch
        {
            "route" => SafeguardPatientSource.RouteValue(name),
            "query" => SafeguardPatientSource.Query(name),
            "header" => SafeguardPatientSource.Header(name),
            _ => null,
        };
    }

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static bool IsHeaderPrefix(string prefix) =>
        prefix.Length is > 0 and <= 64 && prefix.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}

/// <summary>SHA-256 certificate fingerprints as configured.</summary>
internal static class Fingerprint
{
    /// <summary>Upper-case hex without separators, or null when it is not 32 bytes of hex.</summary>
    public static string? Normalize(string text)
    {
        var hex = text.Replace(":", string.Empty, StringComparison.Ordinal).Trim().ToUpperInvariant();
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit) ? hex : null;
    }

    /// <summary>The fingerprint of the first certificate in a PEM file, or null when it cannot be read.</summary>
    public static string? OfPemFile(string path)
    {
        try
        {
            using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(path);
            return Of(certificate);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The SHA-256 fingerprint of a certificate, in <see cref="Normalize"/>'s form.</summary>
    public static string Of(System.Security.Cryptography.X509Certificates.X509Certificate certificate) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.GetRawCertData()));
}
