using System.CommandLine;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Users;

namespace Safeguard.Cli.Users;

/// <summary><c>safeguard users</c>: the people who sign in. Users are never deleted, so a subject is never reused; they are disabled.</summary>
internal static class UsersCommand
{
    public static Command Create(CliContext context)
    {
        var users = new Command("users", "Users: add, list, show, disable, enable, unlock, set-roles, enrol-link, sessions, end-sessions, totp-enroll, reset-mfa.");
        users.Subcommands.Add(UsersAddCommand.Create(context));
        users.Subcommands.Add(List(context));
        users.Subcommands.Add(OneUser(context, "show", "Show one user (never a password or its hash).", null, (_, _, _, _) => Task.FromResult<User?>(null)));
        users.Subcommands.Add(OneUser(context, "disable", "Disable a user: they can no longer sign in. The subject stays reserved.", null, (_, user, _, now) => Task.FromResult<User?>(
            user.Status == UserStatus.Disabled ? null : user with { Status = UserStatus.Disabled, UpdatedAt = now })));
        users.Subcommands.Add(OneUser(context, "enable", "Enable a disabled user.", null, (_, user, _, now) => Task.FromResult<User?>(
            user.Status != UserStatus.Disabled ? null : user with { Status = UserStatus.Active, UpdatedAt = now })));
        users.Subcommands.Add(OneUser(context, "unlock", "Unlock a user locked after failed sign-ins (the failure count starts again).", null, (_, user, _, now) => Task.FromResult<User?>(
            user.Status != UserStatus.Locked && user.FailedSignIns == 0 ? null : user with { Status = user.Status == UserStatus.Locked ? UserStatus.Active : user.Status, FailedSignIns = 0, UpdatedAt = now })));
        var roles = new Option<string[]>("--role") { Description = "A role (repeatable); the user gets exactly these. Give none to remove every role.", AllowMultipleArgumentsPerToken = true };
        users.Subcommands.Add(OneUser(context, "set-roles", "Replace a user's roles.", roles, (_, user, parse, now) =>
        {
            if (!Usernames.TryNormalizeRoles(parse.GetValue(roles) ?? [], out var newRoles, out var error))
            {
                throw new ArgumentException(error);
            }

            return Task.FromResult<User?>(newRoles.SequenceEqual(user.Roles, StringComparer.Ordinal) ? null : user with { Roles = newRoles, UpdatedAt = now });
        }));
        users.Subcommands.Add(OneUserAction(context, "enrol-link",
            "Print a new one-time enrolment link for a user (it replaces any unused one): the user sets a password if they have none, and a second factor if they have none (after reset-mfa, say).",
            null, async (host, user, _, json, cancellationToken) =>
            {
                if (user.Status != UserStatus.Active)
                {
                    await context.Error.WriteLineAsync($"User '{user.Username}' is {UserOutput.StatusName(user.Status)}; enable or unlock them first.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                var link = await IssuedLink.IssueAsync(host, user, cancellationToken).ConfigureAwait(false);
                await UserOutput.WriteAsync(context.Output, user, json, link).ConfigureAwait(false);
                return ExitCodes.Success;
            }));
        users.Subcommands.Add(UsersSessionCommands.Sessions(context));
        users.Subcommands.Add(UsersSessionCommands.EndSessions(context));
        users.Subcommands.Add(UsersMfaCommands.TotpEnroll(context));
        users.Subcommands.Add(UsersMfaCommands.ResetMfa(context));
        return users;
    }

    private static Command List(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var command = new Command("list", "List the users (never their passwords).");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
        {
            await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
            var users = await host.Get<IUserStore>().GetAllAsync(cancellationToken).ConfigureAwait(false);
            await UserOutput.WriteListAsync(context.Output, users, parse.GetValue(json)).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// A command on one user, named by username or subject. <paramref name="change"/> returns the changed user, or
    /// null when there is nothing to change (the user is printed as is); a change is audited before it is written.
    /// </summary>
    private static Command OneUser(CliContext context, string name, string description, Option<string[]>? extra, Func<CliHost, User, ParseResult, DateTimeOffset, Task<User?>> change) =>
        OneUserAction(context, name, description, extra, async (host, user, parse, json, cancellationToken) =>
        {
            User? changed;
            try
            {
                changed = await change(host, user, parse, TimeProvider.System.GetUtcNow()).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                await context.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            if (changed is not null)
            {
                var record = UserOutput.Changed(changed, AuditAction.Update, $"user {name}", Differences(user, changed));
                if (!await host.ChangeAsync(record, () => host.Get<IUserStore>().UpdateAsync(changed, user.UpdatedAt, cancellationToken), cancellationToken).ConfigureAwait(false))
                {
                    await context.Error.WriteLineAsync($"User '{user.Username}' changed meanwhile; nothing was changed. Run the command again.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                user = changed;
            }

            await UserOutput.WriteAsync(context.Output, user, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    /// <summary>A command on one user, named by username or subject: finds the user, then runs <paramref name="action"/> (with <c>--json</c>).</summary>
    internal static Command OneUserAction(CliContext context, string name, string description, Option<string[]>? extra, Func<CliHost, User, ParseResult, bool, CancellationToken, Task<int>> action)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var id = new Argument<string>("user") { Description = "The username or subject (sub)." };
        var command = new Command(name, description);
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        if (extra is not null)
        {
            command.Options.Add(extra);
        }

        command.Arguments.Add(id);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var given = parse.GetValue(id)!;
            var bySubject = UserSubjects.IsWellFormed(given);
            string? username = null;
            if (!bySubject && !Usernames.TryNormalize(given, out username, out _))
            {
                await context.Error.WriteLineAsync($"'{given}' is neither a username nor a user subject.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
                var store = host.Get<IUserStore>();
                var user = bySubject
                    ? await store.FindBySubjectAsync(given, cancellationToken).ConfigureAwait(false)
                    : await store.FindByUsernameAsync(username!, cancellationToken).ConfigureAwait(false);
                if (user is null)
                {
                    await context.Error.WriteLineAsync($"No user '{given}' exists.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                return await action(host, user, parse, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static List<AuditChange> Differences(User before, User after)
    {
        var changes = new List<AuditChange>();
        if (before.Status != after.Status)
        {
            changes.Add(new AuditChange("status", UserOutput.StatusName(before.Status), UserOutput.StatusName(after.Status)));
        }

        if (!before.Roles.SequenceEqual(after.Roles, StringComparer.Ordinal))
        {
            changes.Add(new AuditChange("roles", string.Join(' ', before.Roles), string.Join(' ', after.Roles)));
        }

        if (before.FailedSignIns != after.FailedSignIns)
        {
            changes.Add(new AuditChange("failed_sign_ins", before.FailedSignIns.ToString(System.Globalization.CultureInfo.InvariantCulture), after.FailedSignIns.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return changes;
    }
}
