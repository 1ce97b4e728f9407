using Safeguard.Audit;
using Safeguard.Server.OAuth;
using Safeguard.Users;

namespace Safeguard.Server.Hosting;

/// <summary>
/// On the first start of an empty installation, makes the first administrator, <c>admin</c> with the <c>admin</c>
/// role and no password yet, and prints a one-time enrolment link to standard output (never to the log, which may be
/// shipped elsewhere): opening it sets the password and the second factor and signs the administrator in. While no
/// user has a password, each start replaces the link with a new one, so a lost link costs a restart. Once anyone has
/// a password, nothing happens here.
/// </summary>
internal sealed partial class FirstAdministrator(
    IUserStore users, EnrolmentLinks links, ServerEndpoints endpoints, ServerConsole console, AuditWriter writer, TimeProvider time, ILogger<FirstAdministrator> logger)
{
    public const string Username = "admin";
    public const string Role = "admin";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var all = await users.GetAllAsync(cancellationToken).ConfigureAwait(false);
        if (all.Any(u => u.PasswordHash is not null))
        {
            return;
        }

        var admin = all.FirstOrDefault(u => u.Username == Username && u.Roles.Contains(Role) && u.Status == UserStatus.Active);
        if (admin is null)
        {
            if (all.Count > 0)
            {
                return; // users were added (for enrolment links of their own); not an empty installation
            }

            var now = time.GetUtcNow();
            admin = new User { Subject = UserSubjects.New(), Username = Username, Roles = [Role], Status = UserStatus.Active, CreatedAt = now, UpdatedAt = now };
            await writer.AppendAsync(Event(admin, AuditAction.Create, "first administrator created at first start (no password yet)"), cancellationToken).ConfigureAwait(false);
            try
            {
                await users.AddAsync(admin, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Another node made it first; that node prints the link.
                return;
            }
        }

        await writer.AppendAsync(Event(admin, AuditAction.Create, "enrolment link issued for the first administrator (printed to standard output)"), cancellationToken).ConfigureAwait(false);
        var (link, code) = await links.IssueAsync(admin, cancellationToken).ConfigureAwait(false);
        var url = EnrolmentLinks.UrlFor(endpoints.Issuer, code);
        await console.Output.WriteLineAsync(
            $"{Environment.NewLine}No one can sign in to Safeguard yet. Open this link to set up the administrator '{Username}' (a password and an authenticator app).{Environment.NewLine}" +
            $"It works once, until {link.ExpiresAt:yyyy-MM-dd HH:mm} UTC; restart the server for a new one:{Environment.NewLine}{Environment.NewLine}    {url}{Environment.NewLine}").ConfigureAwait(false);
        await console.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        LogLinkPrinted(logger, Username, link.ExpiresAt);
    }

    private AuditEvent Event(User user, AuditAction action, string reason)
    {
        var now = time.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.UserChanged,
            Outcome = AuditOutcome.Success,
            Subject = user.Subject,
            Actor = "server",
            Action = action,
            ResourceType = "user",
            ResourceId = user.Subject,
            NodeId = writer.Chain,
            Reason = reason,
            Changes = action == AuditAction.Create && reason.StartsWith("first", StringComparison.Ordinal)
                ? [new AuditChange("username", null, user.Username), new AuditChange("roles", null, string.Join(' ', user.Roles)), new AuditChange("status", null, "active")]
                : [],
        };
    }

    [LoggerMessage(EventId = LogEvents.FirstAdministratorLink, Level = LogLevel.Warning,
        Message = "No user can sign in yet: an enrolment link for the administrator '{Username}' was printed to standard output (not to this log). It works once, until {ExpiresAt:u}.")]
    private static partial void LogLinkPrinted(ILogger logger, string username, DateTimeOffset expiresAt);
}

/// <summary>Where the server prints what is for the operator's eyes only (the first administrator's link): standard output, or a test's capture.</summary>
/// <param name="Output">The writer.</param>
internal sealed record ServerConsole(TextWriter Output);
