using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>
/// Whether a new password may be set (NIST SP 800-63B section 3.1.1.2): long enough for the factors the user has,
/// not too long to be hashed in full (never truncated), counted in Unicode code points after NFKC normalisation,
/// not on the blocklist of common and breached passwords (also with up to four digits or symbols added at the end),
/// not one repeated character or a run such as <c>12345678</c>, and not the username, the e-mail address or the
/// service name with a few characters added. No composition rules and no expiry: SP 800-63B forbids both.
/// </summary>
public sealed class PasswordPolicy
{
    private static readonly string[] ServiceWords = ["safeguard"];

    private readonly PasswordOptions _options;
    private readonly PasswordBlocklist _blocklist;

    /// <summary>Creates the policy with the shipped blocklist.</summary>
    /// <param name="options">The options (validated here too).</param>
    public PasswordPolicy(IOptions<PasswordOptions> options)
        : this(options, PasswordBlocklist.Default)
    {
    }

    /// <summary>Creates the policy.</summary>
    /// <param name="options">The options (validated here too).</param>
    /// <param name="blocklist">The blocklist.</param>
    /// <exception cref="InvalidOperationException">Unicode normalisation is unavailable (<see cref="UnicodeNormalization"/>).</exception>
    public PasswordPolicy(IOptions<PasswordOptions> options, PasswordBlocklist blocklist)
    {
        UnicodeNormalization.EnsureAvailable();
        _options = OptionsGuard.Validated(new PasswordOptionsValidator(), options);
        _blocklist = blocklist ?? throw new ArgumentNullException(nameof(blocklist));
    }

    /// <summary>The shortest password allowed for a user with (<paramref name="hasMfa"/>) or without a second factor.</summary>
    /// <param name="hasMfa">Whether a second factor is enrolled.</param>
    /// <returns>The length in code points.</returns>
    public int MinimumLength(bool hasMfa) => hasMfa ? _options.MinimumLengthWithMfa : _options.MinimumLength;

    /// <summary>Checks a proposed password.</summary>
    /// <param name="password">The proposed password, as typed.</param>
    /// <param name="hasMfa">Whether the user has (or is enrolling) a second factor.</param>
    /// <param name="username">The user's username, for the context check.</param>
    /// <param name="email">The user's e-mail address, if any.</param>
    /// <returns>The verdict; when refused, a message that tells the user what to do next.</returns>
    public PasswordCheck Check(string password, bool hasMfa, string? username, string? email)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length > _options.MaximumLength * 2)
        {
            return Refused(PasswordProblem.TooLong, $"Use at most {_options.MaximumLength} characters.");
        }

        string normalized;
        try
        {
            normalized = password.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return Refused(PasswordProblem.Invalid, "The password contains characters that are not valid text; type it again.");
        }

        var length = CodePoints(normalized);
        var minimum = MinimumLength(hasMfa);
        if (length < minimum)
        {
            var hint = hasMfa ? string.Empty : " (8 once a second factor is set up)";
            return Refused(PasswordProblem.TooShort, $"Use at least {minimum} characters{hint}. A few unrelated words make a long password that is easy to remember.");
        }

        if (length > _options.MaximumLength)
        {
            return Refused(PasswordProblem.TooLong, $"Use at most {_options.MaximumLength} characters.");
        }

        if (normalized.Any(char.IsControl))
        {
            return Refused(PasswordProblem.Invalid, "The password contains control characters; use letters, digits, spaces and symbols.");
        }

        var lower = normalized.ToLowerInvariant();
        if (_blocklist.Contains(lower) || _blocklist.Contains(TrimSuffix(lower)))
        {
            return Refused(PasswordProblem.Common, "This password is on a list of common or breached passwords; choose another.");
        }

        if (IsRepetitiveOrSequential(lower))
        {
            return Refused(PasswordProblem.Common, "This password is one repeated character or a simple run; choose another.");
        }

        if (IsContextual(lower, username, email, minimum))
        {
            return Refused(PasswordProblem.Contextual, "This password is too close to your username, e-mail address or the service's name; choose another.");
        }

        return new PasswordCheck(true, PasswordProblem.None, null);
    }

    private static PasswordCheck Refused(PasswordProblem problem, string message) => new(false, problem, message);

    private static int CodePoints(string text)
    {
        var count = 0;
        var enumerator = text.EnumerateRunes();
        while (enumerator.MoveNext())
        {
            count++;
        }

        return count;
    }

    /// <summary>The password without up to four trailing digits or symbols ("password123!" becomes "password").</summary>
    private static string TrimSuffix(string lower)
    {
        var end = lower.Length;
        while (end > 0 && lower.Length - end < 4 && !char.IsLetter(lower[end - 1]))
        {
            end--;
        }

        return lower[..end];
    }

    private static bool IsRepetitiveOrSequential(string lower)
    {
        if (lower.Length < 2)
        {
            return true;
        }

        var same = true;
        var up = true;
        var down = true;
        for (var i = 1; i < lower.Length; i++)
        {
            same &= lower[i] == lower[0];
            up &= lower[i] == lower[i - 1] + 1;
            down &= lower[i] == lower[i - 1] - 1;
        }

        // Two short blocks repeated ("abcabcabc", "12121212") count as repetitive too.
        var repeated = false;
        for (var block = 1; block <= 4 && !repeated; block++)
        {
            if (lower.Length % block == 0 && lower.Length / block >= 2)
            {
                repeated = true;
                for (var i = block; i < lower.Length && repeated; i++)
                {
                    repeated = lower[i] == lower[i - block];
                }
            }
        }

        return same || up || down || repeated;
    }

    /// <summary>Whether what is left after removing the username, the e-mail address (and its local part) and the service name is shorter than the minimum.</summary>
    private static bool IsContextual(string lower, string? username, string? email, int minimum)
    {
        var words = new List<string>(ServiceWords);
        AddWord(words, username);
        if (email is { Length: > 0 })
        {
            AddWord(words, email);
            var at = email.IndexOf('@', StringComparison.Ordinal);
            if (at > 0)
            {
                AddWord(words, email[..at]);
            }
        }

        var rest = lower;
        foreach (var word in words.OrderByDescending(w => w.Length))
        {
            rest = rest.Replace(word, string.Empty, StringComparison.Ordinal);
        }

        return rest.Length != lower.Length && CodePoints(rest) < minimum;
    }

    private static void AddWord(List<string> words, string? word)
    {
        if (word is { Length: >= 3 })
        {
            words.Add(word.Normalize(NormalizationForm.FormKC).ToLower(CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>What was wrong with a proposed password.</summary>
public enum PasswordProblem
{
    /// <summary>Nothing: it may be set.</summary>
    None,

    /// <summary>Shorter than the minimum for the user's factors.</summary>
    TooShort,

    /// <summary>Longer than the maximum (refused, never truncated).</summary>
    TooLong,

    /// <summary>On the blocklist, or a repetition or simple run.</summary>
    Common,

    /// <summary>Built from the username, e-mail address or service name.</summary>
    Contextual,

    /// <summary>Not valid text (unpaired surrogates, control characters).</summary>
    Invalid,
}

/// <summary>The verdict on a proposed password.</summary>
/// <param name="Allowed">Whether it may be set.</param>
/// <param name="Problem">What was wrong.</param>
/// <param name="Message">For the user: what to do next (null when allowed).</param>
public readonly record struct PasswordCheck(bool Allowed, PasswordProblem Problem, string? Message);
