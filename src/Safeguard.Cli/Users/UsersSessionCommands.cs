using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Sessions;

namespace Safeguard.Cli.Users;

/// <summary><c>safeguard users sessions</c> and <c>users end-sessions</c>: an administrator's view of a user's sign-in sessions, and ending them.</summary>
internal static class UsersSessionCommands
{
    public static Command Sessions(CliContext context) => UsersCommand.OneUserAction(context, "sessions",
        "List a user's live sign-in sessions (id, when started and last active, address, browser, assurance, clients).",
        null,
        async (host, user, _, json, cancellationToken) =>
        {
            var manager = host.Get<SessionManager>();
            var now = TimeProvider.System.GetUtcNow();
            var live = (await host.Get<ISessionStore>().GetActiveForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false))
                .Where(s => manager.LimitReached(s, now) is null)
                .Select(s => new SessionView(s.Id, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.AuthenticatedAt, s.Acr, s.Amr, s.SourceIp, s.UserAgent, s.ClientIds))
                .ToList();
            if (json)
            {
                await context.Output.WriteLineAsync(JsonSerializer.Serialize(live, SessionJsonContext.Default.ListSessionView)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"{"SID",-24} {"STARTED (UTC)",-17} {"LAST ACTIVE",-17} {"FROM",-16} CLIENTS");
            foreach (var s in live)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{s.Sid,-24} {s.CreatedAt.UtcDateTime,-17:yyyy-MM-dd HH:mm} {s.LastSeenAt.UtcDateTime,-17:yyyy-MM-dd HH:mm} {s.SourceIp ?? "-",-16} {string.Join(' ', s.ClientIds)}");
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"{live.Count} live session(s) for {user.Username}.");
            await context.Output.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    public static Command EndSessions(CliContext context)
    {
        var only = new Option<string[]>("--session") { Description = "End only this session (its sid; repeatable). Without it, every live session of the user ends." };
        return UsersCommand.OneUserAction(context, "end-sessions",
            "End a user's sessions (all, or those named with --session): their refresh tokens are revoked and their sid recorded as ended. Each is audited first.",
            only,
            async (host, user, parse, json, cancellationToken) =>
            {
                var named = parse.GetValue(only) ?? [];
                var manager = host.Get<SessionManager>();
                var sessions = (await host.Get<ISessionStore>().GetActiveForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false))
                    .Where(s => named.Length == 0 || named.Contains(s.Id, StringComparer.Ordinal))
                    .ToList();
                if (named.Except(sessions.Select(s => s.Id), StringComparer.Ordinal).ToList() is { Count: > 0 } unknown)
                {
                    await context.Error.WriteLineAsync($"No live session {string.Join(", ", unknown)} of {user.Username}; nothing was ended.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                var ended = new List<string>();
                foreach (var session in sessions)
                {
                    var change = UserOutput.Change(user, AuditEventType.SessionEnded, AuditAction.Delete, "session", session.Id, "ended by an administrator", []) with { SessionId = session.Id };
                    if (await host.ChangeAsync(change, () => manager.EndAsync(session.Id, "ended by an administrator", cancellationToken), cancellationToken).ConfigureAwait(false))
                    {
                        ended.Add(session.Id);
                    }
                }

                await context.Output.WriteLineAsync(json
                    ? JsonSerializer.Serialize(new EndedSessionsView(user.Subject, user.Username, ended), SessionJsonContext.Default.EndedSessionsView)
                    : $"Ended {ended.Count} session(s) of {user.Username} ({user.Subject}); their refresh tokens are revoked.").ConfigureAwait(false);
                return ExitCodes.Success;
            });
    }
}

/// <summary>A session as <c>users sessions</c> prints it (never its cookie secret or hash).</summary>
internal sealed record SessionView(
    string Sid,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastSeenAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset AuthenticatedAt,
    string? Acr,
    IReadOnlyList<string> Amr,
    string? SourceIp,
    string? UserAgent,
    IReadOnlyList<string> ClientIds);

/// <summary>What <c>users end-sessions</c> prints.</summary>
internal sealed record EndedSessionsView(string Sub, string Username, IReadOnlyList<string> Ended);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(List<SessionView>))]
[JsonSerializable(typeof(EndedSessionsView))]
internal sealed partial class SessionJsonContext : JsonSerializerContext;
