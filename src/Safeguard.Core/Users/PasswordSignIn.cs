using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>
/// The password step of signing in (NIST SP 800-63B section 5.2.2). Every refusal looks the same to the person and
/// costs the same work, whether the username is unknown, the password wrong, the account disabled, locked, without a
/// password yet or in back-off: the password is always put through Argon2id (against the stored hash, or as spent
/// work), and the caller shows one message. The precise reason is in the result, for the audit trail. After
/// <see cref="SignInOptions.FreeFailures"/> consecutive failures an account is in exponential back-off (attempts
/// inside it are refused without checking the password); at <see cref="SignInOptions.LockAfterFailures"/> it is
/// locked. A source that fails too often is refused unchecked for a while; a burst of failures across many
/// usernames raises an alert.
/// </summary>
public sealed class PasswordSignIn
{
    private readonly IUserStore _users;
    private readonly PasswordHasher _hasher;
    private readonly SignInMonitor _monitor;
    private readonly SignInOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="users">The user store.</param>
    /// <param name="hasher">The password hasher.</param>
    /// <param name="monitor">The node's failure monitor.</param>
    /// <param name="options">The options (validated here too).</param>
    /// <param name="time">The clock.</param>
    public PasswordSignIn(IUserStore users, PasswordHasher hasher, SignInMonitor monitor, IOptions<SignInOptions> options, TimeProvider time)
    {
        _users = users ?? throw new ArgumentNullException(nameof(users));
        _hasher = hasher ?? throw new ArgumentNullException(nameof(hasher));
        _monitor = monitor ?? throw new ArgumentNullException(nameof(monitor));
        _options = OptionsGuard.Validated(new SignInOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>How long an account with <paramref name="failures"/> consecutive failures must wait after the last one.</summary>
    /// <param name="failures">Consecutive failures.</param>
    /// <returns>Zero below the free failures, then 1, 2, 4 ... seconds up to the maximum.</returns>
    public TimeSpan Backoff(int failures)
    {
        if (failures < _options.FreeFailures)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(failures - _options.FreeFailures, 30);
        var seconds = Math.Min(1L << exponent, (long)_options.MaxBackoff.TotalSeconds);
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>Checks a username and password.</summary>
    /// <param name="username">The username as typed.</param>
    /// <param name="password">The password as typed.</param>
    /// <param name="source">The source key (IPv4 address or IPv6 /64) for per-source throttling.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The result; on failure the reason code is for the audit trail only.</returns>
    public async Task<SignInResult> SignInAsync(string? username, string? password, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        password ??= string.Empty;
        var now = _time.GetUtcNow();
        var account = Usernames.TryNormalize(username, out var normalized, out _) ? Usernames.Key(normalized) : "(malformed)";
        if (_monitor.IsSourceThrottled(source, now))
        {
            return Failed(SafeguardErrorCodes.SignInThrottled, null, source, account, now, "too many failed sign-ins from this source");
        }

        try
        {
            var user = account == "(malformed)" ? null : await _users.FindByUsernameAsync(normalized, cancellationToken).ConfigureAwait(false);
            if (user is null)
            {
                await _hasher.SpendAsync(password, cancellationToken).ConfigureAwait(false);
                return Failed(SafeguardErrorCodes.SignInUnknownUser, null, source, account, now, null);
            }

            var wait = user.LastFailedSignInAt is { } last ? last + Backoff(user.FailedSignIns) - now : TimeSpan.Zero;
            var refusal = user.Status switch
            {
                UserStatus.Disabled => SafeguardErrorCodes.SignInUserDisabled,
                UserStatus.Locked => SafeguardErrorCodes.SignInUserLocked,
                _ when wait > TimeSpan.Zero => SafeguardErrorCodes.SignInThrottled,
                _ when user.PasswordHash is null => SafeguardErrorCodes.SignInNoPassword,
                _ => null,
            };
            if (refusal is not null)
            {
                await _hasher.SpendAsync(password, cancellationToken).ConfigureAwait(false);
                var detail = refusal == SafeguardErrorCodes.SignInThrottled ? $"back-off after {user.FailedSignIns} failures, {Math.Ceiling(wait.TotalSeconds)} s left" : null;
                return Failed(refusal, user, source, account, now, detail);
            }

            var verification = await _hasher.VerifyAsync(password, user.PasswordHash, cancellationToken).ConfigureAwait(false);
            if (!verification.Matches)
            {
                var (failures, status) = await _users.RecordSignInFailureAsync(user.Subject, now, _options.LockAfterFailures, cancellationToken).ConfigureAwait(false);
                var detail = status == UserStatus.Locked ? $"{failures} consecutive failures: the account is now locked" : $"{failures} consecutive failures";
                return Failed(SafeguardErrorCodes.SignInWrongPassword, user with { FailedSignIns = failures, Status = status }, source, account, now, detail);
            }

            if (user.FailedSignIns > 0 || user.LastFailedSignInAt is not null)
            {
                await _users.ResetSignInFailuresAsync(user.Subject, cancellationToken).ConfigureAwait(false);
            }

            if (verification.NeedsRehash)
            {
                var stronger = await _hasher.HashAsync(password, cancellationToken).ConfigureAwait(false);
                await _users.RehashPasswordAsync(user.Subject, user.PasswordHash!, stronger, cancellationToken).ConfigureAwait(false);
            }

            return new SignInResult(SignInOutcome.Succeeded, user with { FailedSignIns = 0, LastFailedSignInAt = null }, null, null, null);
        }
        catch (PasswordHashingBusyException)
        {
            return new SignInResult(SignInOutcome.Busy, null, SafeguardErrorCodes.SignInBusy, "every password-hashing slot stayed busy", null);
        }
    }

    private SignInResult Failed(string code, User? user, string source, string account, DateTimeOffset now, string? detail)
    {
        var alert = _monitor.RecordFailure(source, account, now);
        return new SignInResult(SignInOutcome.Failed, user, code, detail, alert);
    }
}

/// <summary>What became of a sign-in attempt.</summary>
public enum SignInOutcome
{
    /// <summary>The password is right and the account may sign in (the second factor comes next).</summary>
    Succeeded,

    /// <summary>Refused: the person sees one generic answer whatever the reason.</summary>
    Failed,

    /// <summary>The node is too busy hashing passwords: the person is asked to try again shortly.</summary>
    Busy,
}

/// <summary>The result of the password step.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="User">The user: on success, and on failures for a known account (for the audit record; never shown).</param>
/// <param name="ErrorCode">On failure, the precise <c>SG34xx</c> reason for the audit trail.</param>
/// <param name="Detail">More for the audit trail (failure count, back-off left).</param>
/// <param name="Alert">A log-in monitoring alert this failure raised, if any.</param>
public sealed record SignInResult(SignInOutcome Outcome, User? User, string? ErrorCode, string? Detail, SignInAlert? Alert)
{
    /// <summary>Whether the password step passed.</summary>
    [MemberNotNullWhen(true, nameof(User))]
    public bool Succeeded => Outcome == SignInOutcome.Succeeded;
}
