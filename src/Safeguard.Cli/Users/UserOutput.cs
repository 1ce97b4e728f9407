using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Users;

namespace Safeguard.Cli.Users;

/// <summary>How the user commands print a user and record a change (never a password or its hash).</summary>
internal static class UserOutput
{
    public static AuditEvent Changed(User user, AuditAction action, string reason, IReadOnlyList<AuditChange> changes) =>
        Change(user, AuditEventType.UserChanged, action, "user", user.Subject, reason, changes);

    /// <summary>An administrator's change to something of <paramref name="user"/>, made from this command line.</summary>
    public static AuditEvent Change(User user, AuditEventType type, AuditAction action, string resourceType, string resourceId, string reason, IReadOnlyList<AuditChange> changes)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type,
            Outcome = AuditOutcome.Success,
            Subject = user.Subject,
            Actor = "cli:" + Environment.UserName,
            Action = action,
            ResourceType = resourceType,
            ResourceId = resourceId,
            Reason = reason,
            Changes = changes,
        };
    }

    public static string StatusName(UserStatus status) => status switch
    {
        UserStatus.Active => "active",
        UserStatus.Locked => "locked",
        _ => "disabled",
    };

    public static async Task WriteAsync(TextWriter output, User user, bool json, IssuedLink? link = null)
    {
        var view = UserView.From(user) with { EnrolmentLink = link?.Url, EnrolmentLinkExpiresAt = link?.ExpiresAt };
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(view, UserJsonContext.Default.UserView)).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"sub:            {view.Sub}");
        text.AppendLine(CultureInfo.InvariantCulture, $"username:       {view.Username}");
        text.AppendLine(CultureInfo.InvariantCulture, $"email:          {view.Email ?? "-"}");
        text.AppendLine(CultureInfo.InvariantCulture, $"roles:          {(view.Roles.Count == 0 ? "-" : string.Join(' ', view.Roles))}");
        text.AppendLine(CultureInfo.InvariantCulture, $"status:         {view.Status}");
        text.AppendLine(CultureInfo.InvariantCulture, $"password:       {(view.PasswordSet ? "set " + view.PasswordChangedAt?.ToString("u", CultureInfo.InvariantCulture) : "not set (the user sets it at enrolment)")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"failed sign-ins: {view.FailedSignIns}");
        if (link is not null)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Enrolment link for {view.Username}: give it to them over a trusted channel. It works once, until {link.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC,");
            text.AppendLine("and sets their password and second factor (a new link replaces this one):");
            text.AppendLine(CultureInfo.InvariantCulture, $"  {link.Url}");
        }

        await output.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    public static async Task WriteListAsync(TextWriter output, IReadOnlyList<User> users, bool json)
    {
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(users.Select(UserView.From).ToList(), UserJsonContext.Default.ListUserView)).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"SUB",-30} {"USERNAME",-24} {"STATUS",-9} {"PASSWORD",-8} ROLES");
        foreach (var u in users)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{u.Subject,-30} {u.Username,-24} {StatusName(u.Status),-9} {(u.PasswordHash is null ? "no" : "yes"),-8} {string.Join(' ', u.Roles)}");
        }

        await output.WriteAsync(text.ToString()).ConfigureAwait(false);
    }
}

/// <summary>An enrolment link just issued (printed once; only its hash is stored).</summary>
internal sealed record IssuedLink(string Url, DateTimeOffset ExpiresAt)
{
    /// <summary>Issues a link for <paramref name="user"/> on the configured server, audited before it is stored.</summary>
    public static async Task<IssuedLink> IssueAsync(CliHost host, User user, CancellationToken cancellationToken)
    {
        IssuedLink? issued = null;
        var change = UserOutput.Changed(user, AuditAction.Create, "enrolment link issued", []);
        await host.ChangeAsync(change, async () =>
        {
            var (link, code) = await host.Get<EnrolmentLinks>().IssueAsync(user, cancellationToken).ConfigureAwait(false);
            issued = new IssuedLink(EnrolmentLinks.UrlFor(host.Issuer, code), link.ExpiresAt);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        return issued!;
    }
}

/// <summary>A user as the commands print it.</summary>
internal sealed record UserView(
    string Sub,
    string Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Email,
    IReadOnlyList<string> Roles,
    string Status,
    bool PasswordSet,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? PasswordChangedAt,
    int FailedSignIns,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? EnrolmentLink { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? EnrolmentLinkExpiresAt { get; init; }

    public static UserView From(User u) => new(
        u.Subject, u.Username, u.Email, u.Roles, UserOutput.StatusName(u.Status), u.PasswordHash is not null, u.PasswordChangedAt, u.FailedSignIns, u.CreatedAt, u.UpdatedAt);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(UserView))]
[JsonSerializable(typeof(List<UserView>))]
internal sealed partial class UserJsonContext : JsonSerializerContext;
