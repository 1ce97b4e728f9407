using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
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

    /// <summary>The events, typed.</summary>
    private new SafeguardJwtEvents Events => (SafeguardJwtEvents)base.Events!;

    /// <inheritdoc />
    protected override Task<object> CreateEventsAsync() => Task.FromResult<object>(new SafeguardJwtEvents());

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Request.Query.ContainsKey("access_token"))
        {
            return await FailAsync(SafeguardErrorCodes.TokenMalformed, "an access token in the query string").ConfigureAwait(false);
        }

        if (await TokenInFormAsync().ConfigureAwait(false))
        {
            return await FailAsync(SafeguardErrorCodes.TokenMalformed, "an access token in a form body").ConfigureAwait(false);
        }

        var authorization = Request.Headers.Authorization;
        if (authorization.Count == 0)
        {
            return AuthenticateResult.NoResult();
        }

        if (authorization.Count != 1 || !AuthenticationHeaderValue.TryParse(authorization[0], out var header)
            || !string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase) || header.Parameter is not { Length: > 0 } token)
        {
            return await FailAsync(SafeguardErrorCodes.TokenMissing, "no single Bearer token").ConfigureAwait(false);
        }

        var authority = authorities.For(Scheme.Name, Options);
        await authority.Keys.EnsureCurrentAsync(Context.RequestAborted).ConfigureAwait(false);
        var result = authority.Validator.Validate(token);
        if (!result.IsValid && result.ErrorCode == SafeguardErrorCodes.TokenKeyUnknown
            && await authority.Keys.TryReadForUnknownKeyAsync(Context.RequestAborted).ConfigureAwait(false))
        {
            result = authority.Validator.Validate(token);
        }

        if (!result.IsValid)
        {
            return await FailAsync(result.ErrorCode, "token refused").ConfigureAwait(false);
        }

        Context.Features.Set(new SafeguardTokenFeature(result.Token));
        var validated = new SafeguardJwtValidatedContext(Context, Scheme, Options, result.Token) { Principal = Principal(result.Token, Scheme.Name) };
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
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = Context.Items.ContainsKey(FailureKey)
            ? "Bearer realm=\"safeguard\", error=\"invalid_token\""
            : "Bearer realm=\"safeguard\"";
        Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 403;
        Response.Headers.WWWAuthenticate = properties?.Items.TryGetValue(ScopeItem, out var scope) == true && scope is { Length: > 0 }
            && !scope.Contains('"', StringComparison.Ordinal)
            ? $"Bearer realm=\"safeguard\", error=\"insufficient_scope\", scope=\"{scope}\""
            : "Bearer realm=\"safeguard\", error=\"insufficient_scope\"";
        Response.Headers.CacheControl = "no-store";
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

    /// <summary>
    /// Whether a form body carries <c>access_token</c> (RFC 6750 section 2.2, refused): looked for only in a small
    /// url-encoded body (64 KiB at most, its length declared), never by reading a large or multipart upload.
    /// </summary>
    private async Task<bool> TokenInFormAsync()
    {
        if (Context.Features.Get<IFormFeature>()?.Form is { } alreadyRead)
        {
            return alreadyRead.ContainsKey("access_token");
        }

        if (Request.ContentLength is not (> 0 and <= 64 * 1024)
            || Request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            return false;
        }

        try
        {
            return (await Request.ReadFormAsync(Context.RequestAborted).ConfigureAwait(false)).ContainsKey("access_token");
        }
        catch (InvalidDataException)
        {
            return false; // not a form after all: the endpoint deals with it
        }
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
        }
    }

    private Authority Create(SafeguardJwtOptions options)
    {
        var keys = new AuthorityKeys(options, time, loggers.CreateLogger<AuthorityKeys>());
        var validation = new AccessTokenValidationOptions { Issuer = options.Authority.TrimEnd('/'), ClockSkew = options.ClockSkew };
        validation.Audiences.Add(options.Audience);
        var validator = new AccessTokenValidator(keys, Options.Create(validation), time, loggers.CreateLogger<AccessTokenValidator>());
        return new Authority(keys, validator);
    }

    internal sealed record Authority(AuthorityKeys Keys, AccessTokenValidator Validator);
}
