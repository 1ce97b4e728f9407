using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Users;

namespace Safeguard.Cli.Users;

/// <summary>
/// <c>safeguard users totp-enroll</c> and <c>reset-mfa</c>: set up an authenticator app and recovery codes for a user
/// (for scripted set-up; users enrol themselves on the account page), and remove every second factor (a lost phone).
/// </summary>
internal static class UsersMfaCommands
{
    public static Command TotpEnroll(CliContext context) => UsersCommand.OneUserAction(context, "totp-enroll",
        "Enrol an authenticator app (TOTP) and ten recovery codes for a user; the otpauth:// URI, the secret and the codes are printed once.",
        null,
        async (host, user, parse, json, cancellationToken) =>
        {
            var store = host.Get<IAuthenticatorStore>();
            var existing = await store.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false);
            if (existing.Any(a => a.Kind == AuthenticatorKind.Totp))
            {
                await context.Error.WriteLineAsync($"User '{user.Username}' already has an authenticator app; run 'users reset-mfa {user.Username}' first to replace it.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var totp = host.Get<TotpAuthenticators>().Create(user);
            var (codes, codeRecords) = host.Get<RecoveryCodes>().Create(user);
            var change = UserOutput.Change(user, AuditEventType.MfaEnrolled, AuditAction.Create, "authenticator", totp.Authenticator.Id, "authenticator app and recovery codes enrolled by an administrator",
                [new AuditChange("totp", null, "(enrolled)"), new AuditChange("recovery_codes", existing.Count(a => a.Kind == AuthenticatorKind.RecoveryCode).ToString(CultureInfo.InvariantCulture), RecoveryCodes.Count.ToString(CultureInfo.InvariantCulture))]);
            await host.ChangeAsync(change, async () =>
            {
                await store.AddAsync([totp.Authenticator, .. codeRecords], cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);

            var view = new TotpEnrollmentView(user.Subject, user.Username, totp.ProvisioningUri, totp.Secret, codes);
            if (json)
            {
                await context.Output.WriteLineAsync(JsonSerializer.Serialize(view, UserMfaJsonContext.Default.TotpEnrollmentView)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"Authenticator app for {user.Username} ({user.Subject}):");
            text.AppendLine(CultureInfo.InvariantCulture, $"  otpauth URI: {totp.ProvisioningUri}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  secret:      {totp.Secret}");
            text.AppendLine("Recovery codes (each works once):");
            foreach (var code in codes)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  {code}");
            }

            text.AppendLine("These are shown only now: give them to the user over a trusted channel and do not keep a copy.");
            await context.Output.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    public static Command ResetMfa(CliContext context) => UsersCommand.OneUserAction(context, "reset-mfa",
        "Remove every second factor of a user (authenticator app, recovery codes), for a lost device; the user enrols again at the next sign-in.",
        null,
        async (host, user, parse, json, cancellationToken) =>
        {
            var store = host.Get<IAuthenticatorStore>();
            var existing = await store.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false);
            var change = UserOutput.Change(user, AuditEventType.MfaRemoved, AuditAction.Delete, "authenticator", user.Subject, "every second factor removed by an administrator",
                [new AuditChange("authenticators", existing.Count.ToString(CultureInfo.InvariantCulture), "0")]);
            var removed = 0;
            await host.ChangeAsync(change, async () =>
            {
                removed = await store.RemoveAllAsync(user.Subject, cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);

            await context.Output.WriteLineAsync(json
                ? JsonSerializer.Serialize(new MfaResetView(user.Subject, user.Username, removed), UserMfaJsonContext.Default.MfaResetView)
                : $"Removed {removed} second factor(s) of {user.Username} ({user.Subject}).").ConfigureAwait(false);
            return ExitCodes.Success;
        });
}

/// <summary>What <c>totp-enroll</c> prints, once.</summary>
internal sealed record TotpEnrollmentView(string Sub, string Username, string OtpauthUri, string Secret, IReadOnlyList<string> RecoveryCodes);

/// <summary>What <c>reset-mfa</c> prints.</summary>
internal sealed record MfaResetView(string Sub, string Username, int Removed);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TotpEnrollmentView))]
[JsonSerializable(typeof(MfaResetView))]
internal sealed partial class UserMfaJsonContext : JsonSerializerContext;
