using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OtpNet;
using Safeguard.Keys;

namespace Safeguard.Users;

/// <summary>
/// TOTP second factors (RFC 6238 through Otp.NET): 160-bit seeds from the OS CSPRNG, sealed under the key-encryption
/// key and bound to the user and authenticator, 6 digits, 30-second steps, HMAC-SHA1 (what every authenticator app
/// reads from an <c>otpauth://</c> URI). A code is accepted at most once: the time step it matched must be later
/// than the last one accepted, recorded atomically in the store, so neither a replay within the window nor an
/// earlier code gets through, on any node.
/// </summary>
public sealed class TotpAuthenticators
{
    /// <summary>Seed length in bytes (RFC 4226's recommended 160 bits).</summary>
    public const int SeedBytes = 20;

    /// <summary>The time step in seconds.</summary>
    public const int StepSeconds = 30;

    /// <summary>Digits in a code.</summary>
    public const int Digits = 6;

    private readonly IAuthenticatorStore _store;
    private readonly IKeyProtector _protector;
    private readonly MfaOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="store">The authenticator store.</param>
    /// <param name="protector">Seals seeds under the KEK.</param>
    /// <param name="options">The options (validated here too).</param>
    /// <param name="time">The clock codes are checked against.</param>
    public TotpAuthenticators(IAuthenticatorStore store, IKeyProtector protector, IOptions<MfaOptions> options, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _protector = protector ?? throw new ArgumentNullException(nameof(protector));
        _options = OptionsGuard.Validated(new MfaOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>
    /// A new TOTP authenticator for <paramref name="user"/> (not yet stored): the record with its sealed seed, and the
    /// seed and <c>otpauth://</c> URI to show the user once.
    /// </summary>
    /// <param name="user">The user.</param>
    /// <returns>The enrolment.</returns>
    public TotpEnrollment Create(User user)
    {
        var seed = RandomNumberGenerator.GetBytes(SeedBytes);
        try
        {
            return Create(user, seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>An enrolment with a given seed (RFC 6238's test vectors).</summary>
    internal TotpEnrollment Create(User user, byte[] seed)
    {
        ArgumentNullException.ThrowIfNull(user);
        var id = AuthenticatorIds.New();
        var authenticator = new Authenticator
        {
            Id = id,
            Subject = user.Subject,
            Kind = AuthenticatorKind.Totp,
            Name = "Authenticator app",
            ProtectedSecret = _protector.Protect(seed, AssociatedData(user.Subject, id)),
            CreatedAt = _time.GetUtcNow(),
        };
        return Describe(user, authenticator, seed);
    }

    /// <summary>
    /// An enrolment not yet stored, shown again (the enrolment page keeps the sealed record between requests until the
    /// user confirms a code).
    /// </summary>
    /// <param name="user">The user.</param>
    /// <param name="authenticator">The sealed record from <see cref="Create(User)"/>.</param>
    /// <returns>The enrolment.</returns>
    public TotpEnrollment Reopen(User user, Authenticator authenticator)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(authenticator);
        if (authenticator.Kind != AuthenticatorKind.Totp || authenticator.Subject != user.Subject)
        {
            throw new ArgumentException("Not a TOTP authenticator of this user.", nameof(authenticator));
        }

        var seed = Unseal(authenticator);
        try
        {
            return Describe(user, authenticator, seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>
    /// Confirms a new enrolment: the code the app shows now. Returns the record to store with the matched time step
    /// already recorded as used (so the confirming code cannot sign in), or null for a wrong code.
    /// </summary>
    /// <param name="authenticator">The sealed record, not yet stored.</param>
    /// <param name="code">The code as typed.</param>
    /// <returns>The record to store, or null.</returns>
    public Authenticator? Confirm(Authenticator authenticator, string? code)
    {
        ArgumentNullException.ThrowIfNull(authenticator);
        if (Normalize(code) is not { } digits)
        {
            return null;
        }

        var seed = Unseal(authenticator);
        try
        {
            var window = new VerificationWindow(_options.TotpDriftSteps, _options.TotpDriftSteps);
            var now = _time.GetUtcNow();
            return new Totp(seed, StepSeconds, OtpHashMode.Sha1, Digits).VerifyTotp(now.UtcDateTime, digits, out var step, window)
                ? authenticator with { Counter = step, LastUsedAt = now }
                : null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    private TotpEnrollment Describe(User user, Authenticator authenticator, byte[] seed)
    {
        var secret = Base32Encoding.ToString(seed).TrimEnd('=');
        var uri = new OtpUri(OtpType.Totp, secret, user.Username, _options.TotpIssuer, OtpHashMode.Sha1, Digits, StepSeconds).ToString();
        return new TotpEnrollment(authenticator, secret, uri);
    }

    /// <summary>The code an authenticator app shows now for an enrolment (to confirm the app was set up; tests).</summary>
    /// <param name="authenticator">The TOTP authenticator.</param>
    /// <param name="at">The time.</param>
    /// <returns>The code.</returns>
    public string ComputeCode(Authenticator authenticator, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(authenticator);
        var seed = Unseal(authenticator);
        try
        {
            return new Totp(seed, StepSeconds, OtpHashMode.Sha1, Digits).ComputeTotp(at.UtcDateTime);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>
    /// Checks a code against the user's TOTP authenticators. Right and unused: accepted and recorded. Right but its
    /// step (or a later one) already used: replayed. Wrong: a failure is counted against each TOTP authenticator.
    /// A factor with 100 consecutive failures is refused until reset.
    /// </summary>
    /// <param name="subject">The user's subject.</param>
    /// <param name="code">The code as typed (spaces ignored).</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The outcome.</returns>
    public async Task<MfaVerification> VerifyAsync(string subject, string? code, CancellationToken cancellationToken)
    {
        var totps = (await _store.GetForUserAsync(subject, cancellationToken).ConfigureAwait(false)).Where(a => a.Kind == AuthenticatorKind.Totp).ToList();
        if (totps.Count == 0)
        {
            return new MfaVerification(MfaOutcome.NotEnrolled, null, 0);
        }

        var usable = totps.Where(a => a.Failures < MfaVerification.MaxConsecutiveFailures).ToList();
        if (usable.Count == 0)
        {
            return new MfaVerification(MfaOutcome.Disabled, totps[0].Id, totps.Max(a => a.Failures));
        }

        var digits = Normalize(code);
        var now = _time.GetUtcNow();
        if (digits is not null)
        {
            var window = new VerificationWindow(_options.TotpDriftSteps, _options.TotpDriftSteps);
            foreach (var authenticator in usable)
            {
                var seed = Unseal(authenticator);
                long step;
                bool matched;
                try
                {
                    matched = new Totp(seed, StepSeconds, OtpHashMode.Sha1, Digits).VerifyTotp(now.UtcDateTime, digits, out step, window);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(seed);
                }

                if (!matched)
                {
                    continue;
                }

                if (step > authenticator.Counter && await _store.TryUseAsync(authenticator.Id, step, now, cancellationToken).ConfigureAwait(false))
                {
                    return new MfaVerification(MfaOutcome.Accepted, authenticator.Id, 0);
                }

                return new MfaVerification(MfaOutcome.Replayed, authenticator.Id, authenticator.Failures);
            }
        }

        var failures = await _store.RecordFailureAsync([.. usable.Select(a => a.Id)], cancellationToken).ConfigureAwait(false);
        return new MfaVerification(failures >= MfaVerification.MaxConsecutiveFailures ? MfaOutcome.Disabled : MfaOutcome.Invalid, usable[0].Id, failures);
    }

    /// <summary>Six ASCII digits, spaces removed; null for anything else.</summary>
    private static string? Normalize(string? code)
    {
        if (code is null || code.Length > 16)
        {
            return null;
        }

        var digits = code.Replace(" ", string.Empty, StringComparison.Ordinal);
        return digits.Length == Digits && digits.All(char.IsAsciiDigit) ? digits : null;
    }

    private byte[] Unseal(Authenticator authenticator) =>
        _protector.Unprotect(authenticator.ProtectedSecret ?? throw new KeyProtectionException($"TOTP authenticator '{authenticator.Id}' has no sealed seed."), AssociatedData(authenticator.Subject, authenticator.Id));

    private static byte[] AssociatedData(string subject, string id) => Encoding.UTF8.GetBytes($"safeguard totp seed v1\0{subject}\0{id}");
}

/// <summary>A new TOTP authenticator and what the user is shown once.</summary>
/// <param name="Authenticator">The record to store (its seed sealed).</param>
/// <param name="Secret">The seed in base32, for manual entry.</param>
/// <param name="ProvisioningUri">The <c>otpauth://totp/...</c> URI, for a QR code.</param>
public sealed record TotpEnrollment(Authenticator Authenticator, string Secret, string ProvisioningUri);
