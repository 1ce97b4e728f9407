using System.Text;

namespace Safeguard.Users;

/// <summary>
/// Passwords and usernames are compared in NFKC (NIST SP 800-63B), which .NET takes from ICU. In
/// globalization-invariant mode, or without ICU, <see cref="string.Normalize(NormalizationForm)"/> leaves non-ASCII text
/// as it is: a password typed with a composed accent on one device and a decomposed one on another would then hash
/// differently. Password and user services check once that normalisation works and refuse to run otherwise.
/// </summary>
internal static class UnicodeNormalization
{
    private static readonly Lazy<bool> Works = new(() =>
        string.Equals("\uFF4A\uFB01".Normalize(NormalizationForm.FormKC), "jfi", StringComparison.Ordinal)
        && string.Equals("e\u0301".Normalize(NormalizationForm.FormKC), "\u00E9", StringComparison.Ordinal));

    /// <summary>Throws unless NFKC normalisation works in this process.</summary>
    /// <exception cref="InvalidOperationException">It does not.</exception>
    public static void EnsureAvailable()
    {
        if (!Works.Value)
        {
            throw new InvalidOperationException(
                "Unicode normalisation (NFKC) does not work in this process, so passwords cannot be checked or hashed consistently. "
                + "Install ICU (Debian: libicu72) and do not set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT or InvariantGlobalization.");
        }
    }
}
