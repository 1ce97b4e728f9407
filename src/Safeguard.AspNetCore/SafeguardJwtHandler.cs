using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
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
    private const string DpopAlgorithms = "ES256 ES384 PS256 RS256";

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

        if (authorization.Count != 1 || !TryReadCredentials(authorization[0], out var presentedAsDpop, out var token))
        {
            return await FailAsync(SafeguardErrorCodes.TokenMissing, "no single Bearer or DPoP token").ConfigureAwait(false);
        }

        if (presentedAsDpop)
        {
            Context.Items[DpopSchemeKey] = true;
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

        if (authority.Revocations?.Check(result.Token) is { } revoked)
        {
            return await FailAsync(revoked, "revoked, or revocation state unknown").ConfigureAwait(false);
        }

        // Sender constraints (RFC 9449, RFC 8705): a DPoP-bound token only with a proof of its key, a certificate-bound
        // one only over a connection with that client certificate.
        string? dpopThumbprint = null;
        if (presentedAsDpop)
        {
            var (thumbprint, code) = await CheckProofAsync(authority, token, result.Token).ConfigureAwait(false);
            if (code is not null)
            {
                return await FailAsync(code, "DPoP proof refused").ConfigureAwait(false);
            }

            dpopThumbprint = thumbprint;
        }
        else if (result.Token.ConfirmationJwkThumbprint is not null)
        {
            return await FailAsync(SafeguardErrorCodes.ResourceDpopBoundAsBearer, "a DPoP-bound token sent as Bearer").ConfigureAwait(false);
        }

        if (result.Token.ConfirmationCertificateThumbprint is { } bound && !await HasCertificateAsync(bound).ConfigureAwait(false))
        {
            return await FailAsync(SafeguardErrorCodes.ResourceCertificateMismatch, "a certificate-bound token without its certificate").ConfigureAwait(false);
        }

        Context.Features.Set(new SafeguardTokenFeature(result.Token, dpopThumbprint));
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
        Response.Headers.CacheControl = "no-store";
        var failure = Context.Items.TryGetValue(FailureKey, out var code) ? code as string : null;
        if (Context.Items.ContainsKey(DpopSchemeKey) || failure == SafeguardErrorCodes.DpopRequired)
        {
            // RFC 9449 section 7.1: the DPoP challenge, with its own error for a proof (the code stays in the trail).
            var error = failure == SafeguardErrorCodes.DpopNonceInvalid ? "use_dpop_nonce"
                : failure?.StartsWith("SG31", StringComparison.Ordinal) == true ? "invalid_dpop_proof"
                : "invalid_token";
            if (failure == SafeguardErrorCodes.DpopNonceInvalid)
            {
                Response.Headers["DPoP-Nonce"] = authorities.For(Scheme.Name, Options).Dpop.CurrentNonce();
            }

            Response.Headers.WWWAuthenticate = $"DPoP algs=\"{DpopAlgorithms}\", error=\"{error}\"";
            return Task.CompletedTask;
        }

        Response.Headers.WWWAuthenticate = failure is not null
            ? "Bearer realm=\"safeguard\", error=\"invalid_token\""
            : "Bearer realm=\"safeguard\"";
        return Task.CompletedTask;
    }

    /// <summary>
    /// Reads <c>Bearer TOKEN</c> or <c>DPoP TOKEN</c> (RFC 6750 section 2.1, RFC 9449 section 7.1): the scheme, case
    /// insensitive, one or more spaces, then the token68 and nothing after it. What the token holds is the validator's
    /// business (its strict reader refuses anything that is not a compact JWS).
    /// </summary>
    internal static bool TryReadCredentials(string? value, out bool dpop, out string token)
    {
        dpop = false;
        token = string.Empty;
        if (value is null)
        {
            return false;
        }

        var span = value.AsSpan();
        var space = span.IndexOf(' ');
        if (space <= 0)
        {
            return false;
        }

        var scheme = span[..space];
        dpop = scheme.Equals("DPoP", StringComparison.OrdinalIgnoreCase);
        if (!dpop && !scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = span[(space + 1)..].TrimStart(' ');
        if (rest.IsEmpty || rest.IndexOfAny(' ', '\t', ',') >= 0)
        {
            return false;
        }

        token = rest.Length == value.Length - space - 1 ? value[(space + 1)..] : rest.ToString();
        return true;
    }

    /// <summary>
    /// Checks the request's DPoP proof against this token (RFC 9449 section 7): exactly one <c>DPoP</c> header, every
    /// proof check with <c>htm</c>, <c>htu</c> as the externally visible URL (scheme and host as forwarded-headers
    /// middleware from known proxies set them) and <c>ath</c>, the proof's key the token's <c>cnf.jkt</c>, then its
    /// <c>jti</c> recorded (replay) only once all else passed.
    /// </summary>
    private async Task<(string? Thumbprint, string? Code)> CheckProofAsync(SafeguardJwtAuthorities.Authority authority, string token, ValidatedAccessToken validated)
    {
        var proofs = Request.Headers["DPoP"];
        if (proofs.Count != 1)
        {
            return (null, SafeguardErrorCodes.DpopProofMissing);
        }

        var target = new Uri(Request.Scheme + "://" + Request.Host.ToUriComponent() + Request.PathBase.ToUriComponent() + Request.Path.ToUriComponent());
        var check = authority.Dpop.Verify(proofs[0], Request.Method, target, token);
        if (!check.Result.Succeeded)
        {
            return (null, check.Result.ErrorCode);
        }

        if (!string.Equals(check.Result.JwkThumbprint, validated.ConfirmationJwkThumbprint, StringComparison.Ordinal))
        {
            return (null, SafeguardErrorCodes.DpopKeyInvalid);
        }

        var consumed = await authority.Dpop.ConsumeAsync(check, Context.RequestAborted).ConfigureAwait(false);
        return consumed.Succeeded ? (consumed.JwkThumbprint, null) : (null, consumed.ErrorCode);
    }

    /// <summary>RFC 8705: the connection's client certificate is the one the token is bound to (<c>cnf.x5t#S256</c>).</summary>
    private async Task<bool> HasCertificateAsync(string thumbprint)
    {
        var certificate = Context.Connection.ClientCertificate ?? await Context.Connection.GetClientCertificateAsync(Context.RequestAborted).ConfigureAwait(false);
        if (certificate is null)
        {
            return false;
        }

        var actual = System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.SHA256.HashData(certificate.RawData));
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(actual), System.Text.Encoding.ASCII.GetBytes(thumbprint));
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
