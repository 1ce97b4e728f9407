using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>
/// What the request's access token is worth: the one check both the <see cref="SafeguardJwtHandler"/> and the gateway's
/// access step run. The token only from <c>Authorization: Bearer</c> or <c>DPoP</c> (one in the query string or a form
/// body is refused, RFC 9700); the core <see cref="AccessTokenValidator"/> (RFC 8725 checks, its verified-token cache);
/// the revocation feed; then the sender constraints: a DPoP-bound token only with a proof of its key (RFC 9449), a
/// certificate-bound one only over a connection with that client certificate (RFC 8705).
/// </summary>
internal static class SafeguardTokenCheck
{
    /// <summary>Checks the request's token against <paramref name="authority"/>.</summary>
    /// <param name="context">The request.</param>
    /// <param name="authority">The scheme's validator, keys, DPoP validator and revocation feed.</param>
    /// <returns>The verified token, a refusal with its code, or neither when the request carries no credentials.</returns>
    public static async ValueTask<Result> CheckAsync(HttpContext context, SafeguardJwtAuthorities.Authority authority)
    {
        var request = context.Request;
        if (request.QueryString.HasValue && request.Query.ContainsKey("access_token"))
        {
            return Result.Refused(SafeguardErrorCodes.TokenMalformed, "an access token in the query string", dpop: false);
        }

        if (await TokenInFormAsync(context).ConfigureAwait(false))
        {
            return Result.Refused(SafeguardErrorCodes.TokenMalformed, "an access token in a form body", dpop: false);
        }

        var authorization = request.Headers.Authorization;
        if (authorization.Count == 0)
        {
            return default;
        }

        if (authorization.Count != 1 || !TryReadCredentials(authorization[0], out var presentedAsDpop, out var token))
        {
            return Result.Refused(SafeguardErrorCodes.TokenMissing, "no single Bearer or DPoP token", dpop: false);
        }

        await authority.Keys.EnsureCurrentAsync(context.RequestAborted).ConfigureAwait(false);
        var result = authority.Validator.Validate(token);
        if (!result.IsValid && result.ErrorCode == SafeguardErrorCodes.TokenKeyUnknown
            && await authority.Keys.TryReadForUnknownKeyAsync(context.RequestAborted).ConfigureAwait(false))
        {
            result = authority.Validator.Validate(token);
        }

        if (!result.IsValid)
        {
            return Result.Refused(result.ErrorCode, "token refused", presentedAsDpop);
        }

        if (authority.Revocations?.Check(result.Token) is { } revoked)
        {
            return Result.Refused(revoked, "revoked, or revocation state unknown", presentedAsDpop);
        }

        string? dpopThumbprint = null;
        if (presentedAsDpop)
        {
            var (thumbprint, code) = await CheckProofAsync(context, authority, token, result.Token).ConfigureAwait(false);
            if (code is not null)
            {
                return Result.Refused(code, "DPoP proof refused", presentedAsDpop);
            }

            dpopThumbprint = thumbprint;
        }
        else if (result.Token.ConfirmationJwkThumbprint is not null)
        {
            return Result.Refused(SafeguardErrorCodes.ResourceDpopBoundAsBearer, "a DPoP-bound token sent as Bearer", presentedAsDpop);
        }

        if (result.Token.ConfirmationCertificateThumbprint is { } bound && !await HasCertificateAsync(context, bound).ConfigureAwait(false))
        {
            return Result.Refused(SafeguardErrorCodes.ResourceCertificateMismatch, "a certificate-bound token without its certificate", presentedAsDpop);
        }

        return new Result(new SafeguardTokenFeature(result.Token, dpopThumbprint), null, null, presentedAsDpop);
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
    private static async Task<(string? Thumbprint, string? Code)> CheckProofAsync(
        HttpContext context, SafeguardJwtAuthorities.Authority authority, string token, ValidatedAccessToken validated)
    {
        var request = context.Request;
        var proofs = request.Headers["DPoP"];
        if (proofs.Count != 1)
        {
            return (null, SafeguardErrorCodes.DpopProofMissing);
        }

        var target = new Uri(request.Scheme + "://" + request.Host.ToUriComponent() + request.PathBase.ToUriComponent() + request.Path.ToUriComponent());
        var check = authority.Dpop.Verify(proofs[0], request.Method, target, token);
        if (!check.Result.Succeeded)
        {
            return (null, check.Result.ErrorCode);
        }

        if (!string.Equals(check.Result.JwkThumbprint, validated.ConfirmationJwkThumbprint, StringComparison.Ordinal))
        {
            return (null, SafeguardErrorCodes.DpopKeyInvalid);
        }

        var consumed = await authority.Dpop.ConsumeAsync(check, context.RequestAborted).ConfigureAwait(false);
        return consumed.Succeeded ? (consumed.JwkThumbprint, null) : (null, consumed.ErrorCode);
    }

    /// <summary>RFC 8705: the connection's client certificate is the one the token is bound to (<c>cnf.x5t#S256</c>).</summary>
    private static async Task<bool> HasCertificateAsync(HttpContext context, string thumbprint)
    {
        var certificate = context.Connection.ClientCertificate ?? await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
        if (certificate is null)
        {
            return false;
        }

        var actual = Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(actual), System.Text.Encoding.ASCII.GetBytes(thumbprint));
    }

    /// <summary>
    /// Whether a form body carries <c>access_token</c> (RFC 6750 section 2.2, refused): looked for only in a small
    /// url-encoded body (64 KiB at most, its length declared), never by reading a large or multipart upload.
    /// </summary>
    private static async Task<bool> TokenInFormAsync(HttpContext context)
    {
        if (context.Features.Get<IFormFeature>()?.Form is { } alreadyRead)
        {
            return alreadyRead.ContainsKey("access_token");
        }

        var request = context.Request;
        if (request.ContentLength is not (> 0 and <= 64 * 1024)
            || request.ContentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) != true)
        {
            return false;
        }

        // Buffered (64 KiB at most, in memory) and rewound, so the endpoint, or the gateway's upstream, still receives
        // every byte: reading the form alone consumes the body.
        request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: 64 * 1024);
        try
        {
            return (await request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false)).ContainsKey("access_token");
        }
        catch (InvalidDataException)
        {
            return false; // not a form after all: the endpoint deals with it
        }
        finally
        {
            request.Body.Position = 0;
        }
    }

    /// <summary>The outcome: <see cref="Feature"/> for a verified token, <see cref="FailureCode"/> for a refusal, neither for a request without credentials.</summary>
    /// <param name="Feature">The verified token and its DPoP key, or null.</param>
    /// <param name="FailureCode">The <c>SGxxxx</c> code of the refusal, or null.</param>
    /// <param name="What">What was refused, for the debug log.</param>
    /// <param name="PresentedAsDpop">Whether the token came under the DPoP scheme (the challenge answers in kind).</param>
    internal readonly record struct Result(SafeguardTokenFeature? Feature, string? FailureCode, string? What, bool PresentedAsDpop)
    {
        public static Result Refused(string code, string what, bool dpop) => new(null, code, what, dpop);
    }
}
