using Safeguard.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Audit;

/// <summary>A form-encoded request whose client authenticated.</summary>
/// <param name="Form">The form.</param>
/// <param name="Caller">The authenticated client.</param>
internal sealed record AuthenticatedRequest(OAuthForm Form, AuthenticatedClient Caller);

/// <summary>
/// What the revocation and introspection endpoints do first: read the form strictly and authenticate the caller. A
/// request that fails either is refused, the refusal audited before it is answered.
/// </summary>
internal sealed class AuthenticatedRequestReader(ClientAuthenticator authenticator, ServerAudit audit)
{
    /// <summary>The form and the caller, or null once the refusal has been recorded and answered.</summary>
    public async Task<AuthenticatedRequest?> ReadAsync(HttpContext context, IReadOnlyList<string> audiences, AuditEventType type, AuditAction action)
    {
        var read = await OAuthForm.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (!read.IsValid)
        {
            await audit.RefuseUnauthenticatedAsync(context, type, action, read.Status, OAuthResponses.InvalidRequest, read.Error, SafeguardErrorCodes.RequestMalformed, null).ConfigureAwait(false);
            return null;
        }

        var authentication = await authenticator.AuthenticateAsync(context, read.Form, audiences, context.RequestAborted).ConfigureAwait(false);
        if (!authentication.Succeeded)
        {
            await audit.RefuseClientAsync(context, type, action, authentication.Failure).ConfigureAwait(false);
            return null;
        }

        return new AuthenticatedRequest(read.Form, authentication.Client);
    }
}
