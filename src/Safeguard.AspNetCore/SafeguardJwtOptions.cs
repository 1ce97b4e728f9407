using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Safeguard.AspNetCore;

/// <summary>
/// Options of the Safeguard JWT handler: whose tokens to accept (<see cref="Authority"/>, https only) and for which
/// resource (<see cref="Audience"/>). Keys come from the authority's discovery document and JWKS, over https only,
/// refreshed on a schedule and at most once per <see cref="UnknownKeyRefreshInterval"/> when a token names a key not
/// yet known; when the JWKS cannot be fetched the keys already known keep working and any other is refused.
/// </summary>
public sealed class SafeguardJwtOptions : AuthenticationSchemeOptions
{
    /// <summary>The Safeguard server's issuer, <c>https://auth.example.org</c>: tokens must carry it as <c>iss</c>.</summary>
    public string Authority { get; set; } = string.Empty;

    /// <summary>This API's resource identifier: tokens must carry it in <c>aud</c>.</summary>
    public string Audience { get; set; } = string.Empty;

    /// <summary>How often the JWKS is read again. Default 5 minutes; 30 seconds to 1 hour.</summary>
    public TimeSpan KeyRefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The least time between two reads caused by unknown key ids. Default 30 seconds; 1 second to 10 minutes.</summary>
    public TimeSpan UnknownKeyRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock skew tolerated on <c>exp</c>, <c>nbf</c> and <c>iat</c>. Default and most 60 seconds (RFC 8725 practice).</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Whether DPoP proofs must carry a nonce this resource issued (RFC 9449 section 9): a proof without one is
    /// answered 401 <c>use_dpop_nonce</c> with a <c>DPoP-Nonce</c> header, and the client retries. Default true.
    /// </summary>
    public bool DpopRequireNonce { get; set; } = true;

    /// <summary>How old a DPoP proof may be (its <c>iat</c>). Default 60 seconds; at most 5 minutes.</summary>
    public TimeSpan DpopProofMaxAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The client id this resource follows the authority's revocation feed as: a client registered to introspect
    /// (<c>clients add ... --introspect RESOURCE</c>). With it set, a revoked token, an ended session, a disabled user or
    /// client and a revoked key are refused here within seconds. Null: only the token's own expiry applies.
    /// </summary>
    public string? RevocationFeedClientId { get; set; }

    /// <summary>That client's secret (<c>client_secret_basic</c>).</summary>
    public string? RevocationFeedClientSecret { get; set; }

    /// <summary>How long the feed may be unreachable before tokens issued before the outage are refused. Default 10 seconds; 2 seconds to 10 minutes.</summary>
    public TimeSpan RevocationFeedOutageBound { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Keep accepting tokens issued before a feed outage past the bound (not recommended). Default false: fail closed.</summary>
    public bool RevocationFeedFailOpen { get; set; }

    /// <summary>
    /// The handler used to reach the authority (a deployment that pins the authority's certificate, or a test). Null:
    /// the system's trust store. Redirects are never followed.
    /// </summary>
    public HttpMessageHandler? BackchannelHandler { get; set; }

    /// <summary>What the application is told as requests are authenticated.</summary>
    public new SafeguardJwtEvents Events
    {
        get => (SafeguardJwtEvents)base.Events!;
        set => base.Events = value;
    }

    /// <summary>Creates the options with default events.</summary>
    public SafeguardJwtOptions() => Events = new SafeguardJwtEvents();
}

/// <summary>Checks <see cref="SafeguardJwtOptions"/> at start-up, every problem at once.</summary>
public sealed class SafeguardJwtOptionsValidator : IValidateOptions<SafeguardJwtOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SafeguardJwtOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) || authority.Scheme != Uri.UriSchemeHttps
            || authority.Query.Length > 0 || authority.Fragment.Length > 0 || authority.UserInfo.Length > 0)
        {
            errors.Add($"SafeguardJwt ({name}): Authority '{options.Authority}' must be the https issuer of the Safeguard server, such as https://auth.example.org.");
        }

        if (string.IsNullOrWhiteSpace(options.Audience) || options.Audience.Length > 2048)
        {
            errors.Add($"SafeguardJwt ({name}): Audience must name this API's resource (the aud its tokens carry).");
        }

        if (options.KeyRefreshInterval < TimeSpan.FromSeconds(30) || options.KeyRefreshInterval > TimeSpan.FromHours(1))
        {
            errors.Add($"SafeguardJwt ({name}): KeyRefreshInterval is {options.KeyRefreshInterval}; set 00:00:30 to 01:00:00.");
        }

        if (options.UnknownKeyRefreshInterval < TimeSpan.FromSeconds(1) || options.UnknownKeyRefreshInterval > TimeSpan.FromMinutes(10))
        {
            errors.Add($"SafeguardJwt ({name}): UnknownKeyRefreshInterval is {options.UnknownKeyRefreshInterval}; set 00:00:01 to 00:10:00.");
        }

        if (options.DpopProofMaxAge <= TimeSpan.Zero || options.DpopProofMaxAge > TimeSpan.FromMinutes(5))
        {
            errors.Add($"SafeguardJwt ({name}): DpopProofMaxAge is {options.DpopProofMaxAge}; set above 0 and at most 00:05:00.");
        }

        if ((options.RevocationFeedClientId is null) != (options.RevocationFeedClientSecret is null))
        {
            errors.Add($"SafeguardJwt ({name}): set both RevocationFeedClientId and RevocationFeedClientSecret, or neither.");
        }

        if (options.RevocationFeedOutageBound < TimeSpan.FromSeconds(2) || options.RevocationFeedOutageBound > TimeSpan.FromMinutes(10))
        {
            errors.Add($"SafeguardJwt ({name}): RevocationFeedOutageBound is {options.RevocationFeedOutageBound}; set 00:00:02 to 00:10:00.");
        }

        if (options.ClockSkew < TimeSpan.Zero || options.ClockSkew > TimeSpan.FromSeconds(60))
        {
            errors.Add($"SafeguardJwt ({name}): ClockSkew is {options.ClockSkew}; set 0 to 60 seconds.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
