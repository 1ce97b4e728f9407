using Safeguard.Audit;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Token;

/// <summary>A token request that passed the checks every grant shares: form, DPoP proof, client authentication, grant allowed.</summary>
/// <param name="Context">The HTTP request.</param>
/// <param name="Form">Its form.</param>
/// <param name="Client">The authenticated client.</param>
/// <param name="DpopThumbprint">The DPoP key the token is to be bound to (<c>cnf.jkt</c>), or null.</param>
internal sealed record TokenRequest(HttpContext Context, OAuthForm Form, AuthenticatedClient Client, string? DpopThumbprint)
{
    /// <summary>Refuses the request: audited, then answered with the RFC 6749 error.</summary>
    public Task RefuseAsync(ServerAudit audit, int status, string error, string description, string code)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return audit.RefuseAsync(Context, AuditEventType.TokenRefused, AuditAction.Create, status, error, description, code, Client.Client.ClientId);
    }
}

/// <summary>One grant type of the token endpoint (RFC 6749 section 4). Registered in the container; the endpoint finds it by <see cref="GrantType"/>.</summary>
internal interface ITokenGrantHandler
{
    /// <summary>The <c>grant_type</c> value it handles.</summary>
    string GrantType { get; }

    /// <summary>Issues the token (released only once its audit event is durable) or refuses, and answers the request.</summary>
    /// <param name="request">The request.</param>
    /// <returns>A task that completes when the response is written.</returns>
    Task HandleAsync(TokenRequest request);
}
