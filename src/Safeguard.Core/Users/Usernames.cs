using System.Globalization;
using System.Text;

namespace Safeguard.Users;

/// <summary>
/// The shape of usernames, e-mail addresses and role names, and the keys that make usernames and e-mail addresses
/// unique without regard to case or Unicode form.
/// </summary>
public static class Usernames
{
    /// <summary>The longest username.</summary>
    public const int MaxLength = 64;

    /// <summary>The longest e-mail address (RFC 5321).</summary>
    public const int MaxEmailLength = 254;

    /// <summary>The longest role name.</summary>
    public const int MaxRoleLength = 64;

    /// <summary>The most roles one user holds.</summary>
    public const int MaxRoles = 32;

    /// <summary>
    /// Normalises a proposed username to NFKC and checks it: 1 to 64 letters, digits, <c>.</c>, <c>_</c>, <c>-</c>
    /// or <c>@</c>, starting with a letter or digit, and never shaped like a user subject.
    /// </summary>
    /// <param name="proposed">The username as typed.</param>
    /// <param name="username">The normalised username.</param>
    /// <param name="error">Why it is refused.</param>
    /// <returns>True if acceptable.</returns>
    public static bool TryNormalize(string? proposed, out string username, out string? error)
    {
        UnicodeNormalization.EnsureAvailable();
        username = string.Empty;
        error = null;
        if (string.IsNullOrWhiteSpace(proposed) || !IsValidText(proposed))
        {
            error = "A username is 1 to 64 letters, digits, '.', '_', '-' or '@'.";
            return false;
        }

        var normalized = proposed.Trim().Normalize(NormalizationForm.FormKC);
        if (normalized.Length is 0 or > MaxLength || !char.IsLetterOrDigit(normalized[0]) || normalized.Any(c => !(char.IsLetterOrDigit(c) || c is '.' or '_' or '-' or '@')))
        {
            error = "A username is 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit.";
            return false;
        }

        if (normalized.StartsWith(UserSubjects.Prefix, StringComparison.OrdinalIgnoreCase))
        {
            error = $"A username cannot start with '{UserSubjects.Prefix}' (the shape of user subject identifiers).";
            return false;
        }

        username = normalized;
        return true;
    }

    /// <summary>The uniqueness key of a normalised username (lower case, invariant culture).</summary>
    /// <param name="username">The normalised username.</param>
    /// <returns>The key.</returns>
    public static string Key(string username) => (username ?? throw new ArgumentNullException(nameof(username))).ToLower(CultureInfo.InvariantCulture);

    /// <summary>Checks a proposed e-mail address: one <c>@</c> with text on both sides, no spaces or control characters, at most 254 characters.</summary>
    /// <param name="proposed">The address as typed.</param>
    /// <param name="email">The normalised (NFKC, trimmed) address.</param>
    /// <param name="error">Why it is refused.</param>
    /// <returns>True if acceptable.</returns>
    public static bool TryNormalizeEmail(string? proposed, out string email, out string? error)
    {
        UnicodeNormalization.EnsureAvailable();
        email = string.Empty;
        error = null;
        var normalized = IsValidText(proposed) ? proposed!.Trim().Normalize(NormalizationForm.FormKC) : string.Empty;
        var at = normalized.IndexOf('@', StringComparison.Ordinal);
        if (normalized.Length is 0 or > MaxEmailLength || at <= 0 || at != normalized.LastIndexOf('@') || at == normalized.Length - 1
            || normalized.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || !normalized[(at + 1)..].Contains('.', StringComparison.Ordinal))
        {
            error = "An e-mail address looks like name@example.org (at most 254 characters).";
            return false;
        }

        email = normalized;
        return true;
    }

    /// <summary>Checks role names: 1 to 64 of <c>[a-z0-9._:-]</c> each, at most 32; returns them sorted and distinct.</summary>
    /// <param name="proposed">The roles.</param>
    /// <param name="roles">The roles, sorted and distinct.</param>
    /// <param name="error">Why they are refused.</param>
    /// <returns>True if acceptable.</returns>
    public static bool TryNormalizeRoles(IEnumerable<string> proposed, out IReadOnlyList<string> roles, out string? error)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        roles = [];
        error = null;
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var role in proposed.SelectMany(r => r.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)))
        {
            if (role.Length > MaxRoleLength || role.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or ':' or '-')))
            {
                error = $"Role '{role}' is not a role name: use 1 to 64 of a-z, 0-9, '.', '_', ':' or '-'.";
                return false;
            }

            set.Add(role);
        }

        if (set.Count > MaxRoles)
        {
            error = $"A user holds at most {MaxRoles} roles.";
            return false;
        }

        roles = [.. set];
        return true;
    }

    private static bool IsValidText(string? text)
    {
        if (text is null)
        {
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }
}
