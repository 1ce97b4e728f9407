using System.Security.Cryptography;
using System.Text;

namespace Safeguard.Users;

/// <summary>
/// Ten single-use recovery codes per user (NIST SP 800-63B look-up secrets): 24 characters of Crockford base32
/// (120 bits, so a plain hash resists offline attack, section 5.1.2.2), shown once in groups of four, stored only as
/// SHA-256 under a domain label. Entry ignores case, spaces and dashes, and reads O as 0 and I or L as 1. A code is
/// spent atomically: of two uses, on any node, one succeeds.
/// </summary>
public sealed class RecoveryCodes(IAuthenticatorStore store, TimeProvider time)
{
    /// <summary>How many codes a user gets.</summary>
    public const int Count = 10;

    private const int CodeLength = 24;
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private static readonly byte[] Label = "safeguard-recovery-code-v1\0"u8.ToArray();

    /// <summary>New codes for <paramref name="user"/> (not yet stored): the records and the codes to show once.</summary>
    /// <param name="user">The user.</param>
    /// <returns>The codes, formatted <c>XXXX-XXXX-XXXX-XXXX-XXXX-XXXX</c>, and their records.</returns>
    public (IReadOnlyList<string> Codes, IReadOnlyList<Authenticator> Records) Create(User user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var now = time.GetUtcNow();
        var codes = new List<string>(Count);
        var records = new List<Authenticator>(Count);
        for (var i = 0; i < Count; i++)
        {
            var raw = new char[CodeLength];
            for (var c = 0; c < CodeLength; c++)
            {
                raw[c] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
            }

            var code = new string(raw);
            codes.Add(string.Join('-', code.Chunk(4).Select(g => new string(g))));
            records.Add(new Authenticator
            {
                Id = AuthenticatorIds.New(),
                Subject = user.Subject,
                Kind = AuthenticatorKind.RecoveryCode,
                Name = $"Recovery code {i + 1}",
                SecretHash = Hash(code),
                CreatedAt = now,
            });
        }

        return (codes, records);
    }

    /// <summary>Checks and spends a recovery code.</summary>
    /// <param name="subject">The user's subject.</param>
    /// <param name="code">The code as typed.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The outcome: accepted (and now spent), invalid, replayed (already spent), not enrolled or disabled.</returns>
    public async Task<MfaVerification> VerifyAsync(string subject, string? code, CancellationToken cancellationToken)
    {
        var all = (await store.GetForUserAsync(subject, cancellationToken).ConfigureAwait(false)).Where(a => a.Kind == AuthenticatorKind.RecoveryCode).ToList();
        if (all.Count == 0)
        {
            return new MfaVerification(MfaOutcome.NotEnrolled, null, 0);
        }

        var failuresSoFar = all.Max(a => a.Failures);
        if (failuresSoFar >= MfaVerification.MaxConsecutiveFailures)
        {
            return new MfaVerification(MfaOutcome.Disabled, null, failuresSoFar);
        }

        var normalized = Normalize(code);
        if (normalized is not null)
        {
            var hash = Hash(normalized);
            Authenticator? match = null;
            foreach (var candidate in all)
            {
                // Every stored hash is compared, in constant time, whichever matches.
                if (candidate.SecretHash is { Length: 32 } stored && CryptographicOperations.FixedTimeEquals(stored, hash))
                {
                    match = candidate;
                }
            }

            if (match is not null)
            {
                return match.Counter == 0 && await store.TryUseAsync(match.Id, 1, time.GetUtcNow(), cancellationToken).ConfigureAwait(false)
                    ? new MfaVerification(MfaOutcome.Accepted, match.Id, 0)
                    : new MfaVerification(MfaOutcome.Replayed, match.Id, failuresSoFar);
            }
        }

        var failures = await store.RecordFailureAsync([.. all.Select(a => a.Id)], cancellationToken).ConfigureAwait(false);
        return new MfaVerification(failures >= MfaVerification.MaxConsecutiveFailures ? MfaOutcome.Disabled : MfaOutcome.Invalid, null, failures);
    }

    /// <summary>The canonical 24 characters of a typed code, or null if it cannot be one.</summary>
    internal static string? Normalize(string? typed)
    {
        if (typed is null || typed.Length > 64)
        {
            return null;
        }

        var builder = new StringBuilder(CodeLength);
        foreach (var c in typed)
        {
            if (c is ' ' or '-')
            {
                continue;
            }

            var upper = char.ToUpperInvariant(c) switch
            {
                'O' => '0',
                'I' or 'L' => '1',
                var other => other,
            };
            if (!Alphabet.Contains(upper, StringComparison.Ordinal) || builder.Length == CodeLength)
            {
                return null;
            }

            builder.Append(upper);
        }

        return builder.Length == CodeLength ? builder.ToString() : null;
    }

    private static byte[] Hash(string code)
    {
        var input = new byte[Label.Length + code.Length];
        Label.CopyTo(input, 0);
        Encoding.ASCII.GetBytes(code, input.AsSpan(Label.Length));
        return SHA256.HashData(input);
    }
}
