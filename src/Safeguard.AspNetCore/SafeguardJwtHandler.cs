using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Safeguard.Dpop;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>
/// Verifies Safeguard access tokens on every request with the core <see cref="AccessTokenValidator"/> (the same code
/// path and verified-token cache the server uses): RFC 8725 checks, <c>typ</c> <c>at+jwt</c>, this authority as
/// <c>iss</c>, this API in <c>aud</c>, the key one the authority publishes. Tokens are taken from
/// <c>Authorization: Bearer</c> only; one in the query string or a form body is refused (RFC 9700). A refusal answers
/// 401 with a generic <c>invalid_token</c> (RFC 6750); the precise reason goes to the events and the debug log.
/// </summary>
public sealed partial class SafeguardJwtHandler(
    IOptionsMonitor<SafeguardJwtOptions> options, ILoggerFactory logger, UrlEncoder encoder, SafeguardJwtAuthorities authorities)
    : AuthenticationHandler<SafeguardJwtOptions>(options, logger, encoder)
{
    /// <summary>The <see cref="AuthenticationProperties"/> item naming the scopes a 403 answer lists (RFC 6750 <c>scope</c>).</summary>
    public const string ScopeItem = "safeguard.scope";

    private const string FailureKey = SafeguardResourceAccess.FailureKey;
    private const string DpopSchemeKey = "Safeguard.Jwt.DpopScheme";

    /// <summary>The events, typed.</summary>
    private new SafeguardJwtEvents Events => (SafeguardJwtEvents)base.Events!;

    /// <inheritdoc />
    protected override Task<object> CreateEventsAsync() => Task.FromResult<object>(new SafeguardJwtEvents());

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var check = await SafeguardTokenCheck.CheckAsync(Context, authorities.For(Scheme.Name, Options)).ConfigureAwait(false);
        if (check.PresentedAsDpop)
        {
            Context.Items[DpopSchemeKey] = true;
        }

        if (check.FailureCode is { } code)
        {
            return await FailAsync(code, check.What!).ConfigureAwait(false);
        }

        if (check.Feature is not { } feature)
        {
            return AuthenticateResult.NoResult();
        }

        Context.Features.Set(feature);
        var validated = new SafeguardJwtValidatedContext(Context, Scheme, Options, feature.Token) { Principal = Principal(feature.Token, Scheme.Name) };
        await Events.TokenValidated(validated).ConfigureAwait(false);
        if (validated.Result is not null)
        {
            return validated.Result;
        }

        validated.Success();
        return validated.Result!;
    }

    /// <inheritdoc />
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Items.TryGetValue(FailureKey, out var code) ? code as string : null;
        SafeguardChallenges.Unauthorized(Response, failure, Context.Items.ContainsKey(DpopSchemeKey), authorities.For(Scheme.Name, Options).Dpop);
        return Task.CompletedTask;
    }

    /// <summary>Reads <c>Bearer TOKEN</c> or <c>DPoP TOKEN</c>: see <see cref="SafeguardTokenCheck.TryReadCredentials"/>.</summary>
    internal static bool TryReadCredentials(string? value, out bool dpop, out string token) => SafeguardTokenCheck.TryReadCredentials(value, out dpop, out token);

    /// <inheritdoc />
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        SafeguardChallenges.Forbidden(Response, properties?.Items.TryGetValue(ScopeItem, out var scope) == true ? scope : null);
        return Task.CompletedTask;
    }

    /// <summary>The claims of a validated token: <c>sub</c>, <c>client_id</c>, each scope, role and <c>amr</c>, <c>sid</c>, <c>acr</c>, <c>auth_time</c>, <c>jti</c>.</summary>
    internal static ClaimsPrincipal Principal(ValidatedAccessToken token, string scheme)
    {
        var claims = new List<Claim>();
        void Add(string type, string? value)
        {
            if (value is not null)
            {
                claims.Add(new Claim(type, value));
            }
        }

        Add("sub", token.Subject);
        Add("client_id", token.ClientId);
        Add("jti", token.TokenId);
        Add("sid", token.SessionId);
        Add("acr", token.AuthenticationContextClass);
        Add("auth_time", token.AuthenticationTime?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        foreach (var scope in token.Scopes)
        {
            Add("scope", scope);
        }

        foreach (var role in token.Roles)
        {
            Add(ClaimTypes.Role, role);
        }

        foreach (var method in token.AuthenticationMethods)
        {
            Add("amr", method);
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, "sub", ClaimTypes.Role));
    }

    private async Task<AuthenticateResult> FailAsync(string code, string what)
    {
        Context.Items[FailureKey] = code;
        LogRefused(Logger, code, what);
        var failed = new SafeguardJwtFailedContext(Context, Scheme, Options, code);
        await Events.AuthenticationFailed(failed).ConfigureAwait(false);
        return failed.Result ?? AuthenticateResult.Fail($"{code} {what}");
    }

    [LoggerMessage(EventId = LogEvents.ResourceTokenRefused, Level = LogLevel.Debug, Message = "Safeguard JWT refused ({Code}): {What}.")]
    private static partial void LogRefused(ILogger logger, string code, string what);
}

/// <summary>One validator and key source per scheme, built from its options on first use (the verified-token cache lives as long as the application).</summary>
public sealed class SafeguardJwtAuthorities(TimeProvider time, ILoggerFactory loggers) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Authority>> _schemes = new(StringComparer.Ordinal);

    internal Authority For(string scheme, SafeguardJwtOptions options) =>
        _schemes.GetOrAdd(scheme, _ => new Lazy<Authority>(() => Create(options))).Value;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var authority in _schemes.Values.Where(l => l.IsValueCreated).Select(l => l.Value))
        {
            authority.Validator.Dispose();
            authority.Keys.Dispose();
            authority.Nonces.Dispose();
            authority.Revocations?.Dispose();
        }
    }

    private Authority Create(SafeguardJwtOptions options)
    {
        var keys = new AuthorityKeys(options, time, loggers.CreateLogger<AuthorityKeys>());
        var validation = new AccessTokenValidationOptions { Issuer = options.Authority.TrimEnd('/'), ClockSkew = options.ClockSkew };
        validation.Audiences.Add(options.Audience);
        var validator = new AccessTokenValidator(keys, Options.Create(validation), time, loggers.CreateLogger<AccessTokenValidator>());

        // DPoP nonces are this process's own (a random key): a proof carries one this resource handed out.
        var nonces = new DpopNonces(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(5), time);
        var dpop = new DpopProofValidator(
            new MemoryReplayCache(time), nonces, Options.Create(new DpopOptions { RequireNonce = options.DpopRequireNonce, ProofMaxAge = options.DpopProofMaxAge }), time);
        RevocationFeedClient? revocations = null;
        if (options.RevocationFeedClientId is not null)
        {
            revocations = new RevocationFeedClient(options, time, loggers.CreateLogger<RevocationFeedClient>());
            revocations.Start();
        }

        return new Authority(keys, validator, dpop, nonces, revocations);
    }

    /// <summary>Creates each Safeguard JWT scheme's authority now (so its revocation feed is followed from start-up, not from the first request).</summary>
    /// <param name="schemes">The scheme names and their options.</param>
    public void Prepare(IEnumerable<(string Scheme, SafeguardJwtOptions Options)> schemes)
    {
        ArgumentNullException.ThrowIfNull(schemes);
        foreach (var (scheme, options) in schemes)
        {
            _ = For(scheme, options);
        }
    }

    /// <summary>Whether every scheme that follows a revocation feed is current (for the health check), with a description.</summary>
    /// <returns>True and null when all are; false and what is stale otherwise.</returns>
    public (bool Current, string? Stale) RevocationFeedsCurrent()
    {
        var stale = _schemes.Where(s => s.Value.IsValueCreated && s.Value.Value.Revocations is { IsCurrent: false })
            .Select(s => $"{s.Key} ({s.Value.Value.Revocations!.LastError ?? "no answer yet"})").ToList();
        return stale.Count == 0 ? (true, null) : (false, "revocation feed unreachable past its bound for " + string.Join(", ", stale));
    }

    internal sealed record Authority(AuthorityKeys Keys, AccessTokenValidator Validator, DpopProofValidator Dpop, DpopNonces Nonces, RevocationFeedClient? Revocations);
}
