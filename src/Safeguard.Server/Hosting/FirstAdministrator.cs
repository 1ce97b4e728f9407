using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Server.OAuth;
using Safeguard.Users;

namespace Safeguard.Server.Hosting;

/// <summary>
/// On the first start of an empty installation, makes the first administrator, <c>admin</c> with the <c>admin</c>
/// role and no password yet, and issues a one-time enrolment link: opening it sets the password and the second factor
/// and signs the administrator in. The link goes into <c>first-administrator-link.txt</c> in the data folder (0600),
/// never into the log; it is printed on the terminal only when standard output is one (in a container or under a
/// service manager standard output is collected like a log, so there only the file's path is printed). While no user
/// has a password, each start replaces the link, so a lost link costs a restart. Once anyone has a password, the
/// file is removed and nothing else happens here.
/// </summary>
internal sealed partial class FirstAdministrator(
    IUserStore users, EnrolmentLinks links, ServerEndpoints endpoints, ServerConsole console, SafeguardDataFolder folder, AuditWriter writer, TimeProvider time, ILogger<FirstAdministrator> logger)
{
    public const string Username = "admin";
    public const string Role = "admin";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var all = await users.GetAllAsync(cancellationToken).ConfigureAwait(false);
        if (all.Any(u => u.PasswordHash is not null))
        {
            File.Delete(folder.FirstAdministratorLink); // spent or moot: someone can sign in
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
        var file = folder.FirstAdministratorLink;
        File.Delete(file);
        await WriteOwnerOnlyAsync(file, url).ConfigureAwait(false);

        var intro = $"{Environment.NewLine}No one can sign in to Safeguard yet. Open the link below to set up the administrator '{Username}' (a password and an authenticator app).{Environment.NewLine}" +
            $"It works once, until {link.ExpiresAt:yyyy-MM-dd HH:mm} UTC; restart the server for a new one.";
        await console.Output.WriteLineAsync(console.Interactive
            ? $"{intro}{Environment.NewLine}{Environment.NewLine}    {url}{Environment.NewLine}"
            : $"{intro} Standard output is not a terminal, so the link is only in {file} (readable by this account only).{Environment.NewLine}").ConfigureAwait(false);
        await console.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        LogLinkPrinted(logger, Username, file, link.ExpiresAt);
    }

    private static async Task WriteOwnerOnlyAsync(string path, string content)
    {
        if (OperatingSystem.IsWindows())
        {
            await File.WriteAllTextAsync(path, content + Environment.NewLine).ConfigureAwait(false);
            return;
        }

        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        var stream = new FileStream(path, options);
        await using (stream.ConfigureAwait(false))
        {
            var writer = new StreamWriter(stream);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteLineAsync(content).ConfigureAwait(false);
            }
        }
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
        Message = "No user can sign in yet: an enrolment link for the administrator '{Username}' is in {File} (not in this log). It works once, until {ExpiresAt:u}.")]
    private static partial void LogLinkPrinted(ILogger logger, string username, string file, DateTimeOffset expiresAt);
}

/// <summary>Where the server prints what is for the operator's eyes only (the first administrator's link): standard output, or a test's capture.</summary>
/// <param name="Output">The writer.</param>
/// <param name="Interactive">Whether it is a terminal (not collected like a log): only then is a secret printed.</param>
internal sealed record ServerConsole(TextWriter Output, bool Interactive);
