using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Server.Audit;
using Safeguard.Server.Authorize;
using Safeguard.Server.OAuth;
using Safeguard.Sessions;
using Safeguard.Users;

namespace Safeguard.Server.SignIn;

/// <summary>
/// What the sign-in pages share: the pending authorization request a sign-in is for, the audit events of each step,
/// and finishing: a new session (its cookie set, the pending sign-in cleared, <c>session.started</c> durable), then
/// back to the client with a code, or to the account page.
/// </summary>
internal sealed class SignInFlow(
    IAuthorizationStore requests, SessionManager sessions, AuthorizationResponder responder, ServerAudit audit,
    IOptions<SignInOptions> options, TimeProvider time)
{
    public const string GenericFailure =
        "The username or password is not right, or this account cannot sign in now. Check them and try again; after several tries, wait a minute before the next. If it keeps happening, contact your administrator.";

    /// <summary>Whether this sign-in must use a second factor: the configuration, the user's roles, or the client's <c>acr_values</c>.</summary>
    public bool MfaRequired(User user, AuthorizationRequest? request) =>
        options.Value.MfaRequiredFor(user) || request?.RequiredAcr == AuthenticationContext.Aal2;

    /// <summary>Whether <paramref name="user"/> must keep a second factor (the configuration or their roles).</summary>
    public bool MfaRequired(User user) => options.Value.MfaRequiredFor(user);

    /// <summary>The live pending request <paramref name="id"/> names, or null.</summary>
    public async Task<AuthorizationRequest?> FindRequestAsync(string? id, CancellationToken cancellationToken)
    {
        if (id is not { Length: > 0 and <= 64 })
        {
            return null;
        }

        var request = await requests.FindRequestAsync(id, cancellationToken).ConfigureAwait(false);
        return request is { Pushed: false } && time.GetUtcNow() < request.ExpiresAt ? request : null;
    }

    /// <summary>The source key a sign-in is throttled by (IPv4 address, IPv6 /64).</summary>
    public static string SourceOf(HttpContext context) => SourceAddress.Of(context.Connection.RemoteIpAddress);

    /// <summary>Records an event of the sign-in; false when the trail cannot take it (the page then says try later).</summary>
    public Task<bool> RecordAsync(HttpContext context, AuditEventType type, AuditOutcome outcome, string? subject, string? clientId, string reason, Func<AuditEvent, AuditEvent>? change = null)
    {
        var auditEvent = audit.Create(context, type, outcome, clientId, reason, context.Response.StatusCode) with
        {
            Subject = subject,
            Action = AuditAction.Execute,
            ResourceType = "user",
            ResourceId = subject,
        };
        return audit.RecordAsync(change is null ? auditEvent : change(auditEvent), context.RequestAborted);
    }

    /// <summary>Finishes: starts the session and continues. False when the trail cannot record it (nothing started).</summary>
    public async Task<bool> CompleteAsync(HttpContext context, string subject, IReadOnlyList<string> amr, string acr, AuthorizationRequest? request)
    {
        if (await StartSessionAsync(context, subject, amr, acr, request?.ClientId).ConfigureAwait(false) is not { } session)
        {
            return false;
        }

        if (request is not null)
        {
            await responder.CompleteAsync(context, request, session).ConfigureAwait(false);
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status303SeeOther;
            context.Response.Headers.Location = "/";
        }

        return true;
    }

    /// <summary>Starts a session (its cookie set, the pending sign-in cleared, <c>session.started</c> durable); null when the trail cannot record it (nothing started).</summary>
    public async Task<UserSession?> StartSessionAsync(HttpContext context, string subject, IReadOnlyList<string> amr, string acr, string? clientId)
    {
        var userAgent = context.Request.Headers.UserAgent.ToString();
        var (session, secret) = await sessions.StartAsync(subject, amr, acr, context.Connection.RemoteIpAddress?.ToString(), userAgent, context.RequestAborted).ConfigureAwait(false);
        if (!await audit.RecordAsync(SessionEvents.Started(audit, context, session, clientId), context.RequestAborted).ConfigureAwait(false))
        {
            await sessions.EndAsync(session.Id, "audit unavailable", CancellationToken.None).ConfigureAwait(false);
            return null;
        }

        SignInCookies.SetSession(context.Response, secret);
        SignInCookies.ClearPending(context.Response);
        return session;
    }
}
