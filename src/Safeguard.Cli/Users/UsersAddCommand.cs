using System.CommandLine;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Users;

namespace Safeguard.Cli.Users;

/// <summary>
/// <c>safeguard users add</c>: creates a user with a new opaque subject. The password, when set here, comes from
/// standard input only (never an argument, which other users of the machine can read), is checked against the
/// NIST SP 800-63B rules and the blocklist, and is stored only as an Argon2id hash.
/// </summary>
internal static class UsersAddCommand
{
    /// <summary>The most characters read from standard input for a password.</summary>
    private const int MaxPasswordInput = 4096;

    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var username = new Argument<string>("username") { Description = "The username (letters, digits, '.', '_', '-', '@'; unique without regard to case)." };
        var email = new Option<string?>("--email") { Description = "The user's e-mail address (unique)." };
        var roles = new Option<string[]>("--role") { Description = "A role (repeatable), for example clinician or admin.", AllowMultipleArgumentsPerToken = true };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (for scripted set-up). Without it an enrolment link is printed, with which the user sets a password and a second factor." };
        var command = new Command("add", "Add a user. Its subject (sub) is generated, opaque and never reused.");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.Options.Add(email);
        command.Options.Add(roles);
        command.Options.Add(passwordStdin);
        command.Arguments.Add(username);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            if (!Usernames.TryNormalize(parse.GetValue(username), out var name, out var nameError))
            {
                errors.Add(nameError!);
            }

            string? address = null;
            if (parse.GetValue(email) is { } proposedEmail)
            {
                if (Usernames.TryNormalizeEmail(proposedEmail, out var normalizedEmail, out var emailError))
                {
                    address = normalizedEmail;
                }
                else
                {
                    errors.Add(emailError!);
                }
            }

            if (!Usernames.TryNormalizeRoles(parse.GetValue(roles) ?? [], out var userRoles, out var rolesError))
            {
                errors.Add(rolesError!);
            }

            string? password = null;
            if (parse.GetValue(passwordStdin))
            {
                password = await ReadPasswordAsync(context.Input, cancellationToken).ConfigureAwait(false);
                if (password is null)
                {
                    errors.Add($"--password-stdin: standard input held no password (or more than {MaxPasswordInput} characters).");
                }
            }

            if (errors.Count > 0)
            {
                await context.Error.WriteLineAsync(string.Join(Environment.NewLine, errors)).ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                string? hash = null;
                if (password is not null)
                {
                    // No second factor yet: the password is the only factor, so the longer minimum applies.
                    var check = host.Get<PasswordPolicy>().Check(password, hasMfa: false, name, address);
                    if (!check.Allowed)
                    {
                        await context.Error.WriteLineAsync("The password was refused: " + check.Message).ConfigureAwait(false);
                        return ExitCodes.BadInput;
                    }

                    hash = await host.Get<PasswordHasher>().HashAsync(password, cancellationToken).ConfigureAwait(false);
                }

                await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
                var now = TimeProvider.System.GetUtcNow();
                var user = new User
                {
                    Subject = UserSubjects.New(),
                    Username = name,
                    Email = address,
                    Roles = userRoles,
                    Status = UserStatus.Active,
                    PasswordHash = hash,
                    PasswordChangedAt = hash is null ? null : now,
                    CreatedAt = now,
                    UpdatedAt = now,
                };

                var change = UserOutput.Changed(user, AuditAction.Create, "user added",
                [
                    new AuditChange("username", null, user.Username),
                    new AuditChange("email", null, user.Email),
                    new AuditChange("roles", null, string.Join(' ', user.Roles)),
                    new AuditChange("status", null, UserOutput.StatusName(user.Status)),
                    new AuditChange("password", null, hash is null ? null : "(set)"),
                ]);
                string? refusal = null;
                var added = await host.ChangeAsync(change, async () =>
                {
                    try
                    {
                        await host.Get<IUserStore>().AddAsync(user, cancellationToken).ConfigureAwait(false);
                        return true;
                    }
                    catch (InvalidOperationException ex)
                    {
                        refusal = ex.Message;
                        return false;
                    }
                }, cancellationToken).ConfigureAwait(false);
                if (!added)
                {
                    await context.Error.WriteLineAsync((refusal ?? "The user could not be added.") + " Nothing was added.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                var link = hash is null ? await IssuedLink.IssueAsync(host, user, cancellationToken).ConfigureAwait(false) : null;
                await UserOutput.WriteAsync(context.Output, user, parse.GetValue(json), link).ConfigureAwait(false);
                return ExitCodes.Success;
            }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The whole of standard input less one trailing line break; null if empty or too long.</summary>
    private static async Task<string?> ReadPasswordAsync(TextReader input, CancellationToken cancellationToken)
    {
        var buffer = new char[MaxPasswordInput + 2];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await input.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }

        try
        {
            if (length == buffer.Length)
            {
                return null;
            }

            var text = new string(buffer, 0, length);
            text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
            return text.Length is 0 or > MaxPasswordInput ? null : text;
        }
        finally
        {
            Array.Clear(buffer);
        }
    }
}
