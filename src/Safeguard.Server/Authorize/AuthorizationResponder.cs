using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Server.Audit;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;

namespace Safeguard.Server.Authorize;

/// <summary>
/// Ends an authorization request with a code: 256 random bits, stored only as its SHA-256, single-use, valid for 60
/// seconds, bound to the client, redirect URI, PKCE challenge and session. The issuance is durable in the audit trail
/// before the browser is sent back; the response carries <c>code</c>, <c>state</c> and <c>iss</c> (RFC 9207).
/// </summary>
internal sealed class AuthorizationResponder(IAuthorizationStore store, ISessionStore sessions, ServerAudit audit, ServerEndpoints endpoints, TimeProvider time)
{
    public static readonly TimeSpan CodeLifetime = TimeSpan.FromSeconds(60);

    /// <summary>The consent page.</summary>
    public const string ConsentPath = "/consent";

    /// <summary>
    /// Issues the code for <paramref name="request"/> in <paramref name="session"/> and redirects the browser to the
    /// client; or, when the client asked for consent that the user has not yet given, to the consent page.
    /// </summary>
    public async Task CompleteAsync(HttpContext context, AuthorizationRequest request, UserSession session, bool consented = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(session);
        if (request.ConsentRequested && !consented)
        {
            context.Response.StatusCode = StatusCodes.Status303SeeOther;
            context.Response.Headers.Location = ConsentPath + "?request=" + Uri.EscapeDataString(request.Id);
            OAuthResponses.NoStore(context.Response);
            return;
        }

        var now = time.GetUtcNow();
        if (now >= request.ExpiresAt || !await store.RemoveRequestAsync(request.Id, context.RequestAborted).ConfigureAwait(false))
        {
            await ErrorPage.WriteAsync(context, 400, "This sign-in request has expired or was already used. Go back to the application and start again.").ConfigureAwait(false);
            return;
        }

        var code = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var codeHash = HashCode(code);
        var record = new AuthorizationCode
        {
            CodeHash = codeHash,
            ClientId = request.ClientId,
            Subject = session.Subject,
            SessionId = session.Id,
            RedirectUri = request.RedirectUri,
            CodeChallenge = request.CodeChallenge,
            Scopes = request.Scopes,
            Resources = request.Resources,
            Nonce = request.Nonce,
            AuthenticatedAt = session.AuthenticatedAt,
            Amr = session.Amr,
            Acr = session.Acr,
            CreatedAt = now,
            ExpiresAt = now + CodeLifetime,
        };
        var issued = audit.Create(context, AuditEventType.TokenIssued, AuditOutcome.Success, request.ClientId, "authorization code issued", 302) with
        {
            Subject = session.Subject,
            SessionId = session.Id,
            Acr = session.Acr,
            Amr = session.Amr,
            Action = AuditAction.Create,
            ResourceType = "authorization_code",
            ResourceId = codeHash[..16],
        };
        if (!await audit.RecordAsync(issued, context.RequestAborted).ConfigureAwait(false))
        {
            await ErrorPage.WriteAsync(context, 503, "Signing in is unavailable for a moment (the audit trail cannot record it). Try again shortly.").ConfigureAwait(false);
            return;
        }

        await store.AddCodeAsync(record, context.RequestAborted).ConfigureAwait(false);
        if (!session.ClientIds.Contains(request.ClientId, StringComparer.Ordinal))
        {
            // The clients of a session are told when it ends (back-channel logout).
            await sessions.AddClientAsync(session.Id, request.ClientId, context.RequestAborted).ConfigureAwait(false);
        }

        Redirect(context, request.RedirectUri, [("code", code), ("state", request.State), ("iss", endpoints.Issuer)]);
    }

    /// <summary>
    /// Whether <paramref name="session"/> may answer <paramref name="request"/> without a new sign-in: for
    /// <c>prompt=login</c> it authenticated after the request was made, within <c>max_age</c>, and at AAL2 when the
    /// client asked for it with <c>acr_values</c>. Checked at <c>/authorize</c> and again on the consent page.
    /// </summary>
    public static bool Satisfies(AuthorizationRequest request, UserSession session, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(session);
        return (!request.ForceLogin || session.AuthenticatedAt >= request.CreatedAt)
            && (request.MaxAge is not { } maxAge || now - session.AuthenticatedAt <= TimeSpan.FromSeconds(maxAge))
            && (request.RequiredAcr != AuthenticationContext.Aal2 || session.Acr == AuthenticationContext.Aal2);
    }

    /// <summary>Sends the browser to the client's redirect URI with an error (RFC 6749 section 4.1.2.1), <c>state</c> and <c>iss</c>.</summary>
    public void RedirectError(HttpContext context, string redirectUri, string? state, string error, string description) =>
        Redirect(context, redirectUri, [("error", error), ("error_description", description), ("state", state), ("iss", endpoints.Issuer)]);

    /// <summary>The stored form of a code: SHA-256, base64url.</summary>
    public static string HashCode(string code) => Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(code)));

    private static void Redirect(HttpContext context, string redirectUri, IEnumerable<(string Name, string? Value)> parameters)
    {
        var location = new StringBuilder(redirectUri);
        var separator = redirectUri.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (name, value) in parameters)
        {
            if (value is null)
            {
                continue;
            }

            location.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = location.ToString();
        OAuthResponses.NoStore(context.Response);
    }
}
