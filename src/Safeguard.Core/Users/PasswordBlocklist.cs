using System.IO.Compression;
using System.Text;

namespace Safeguard.Users;

/// <summary>
/// The common and breached passwords Safeguard refuses, checked offline: 17,950 entries of at least 8 characters
/// derived from the MIT-licensed zxcvbn list (<c>tools/blocklist/derive.sh</c> says how), shipped in the assembly,
/// loaded once on first use (about 1 MB in memory). Comparisons are case-insensitive on the NFKC form.
/// </summary>
public sealed class PasswordBlocklist
{
    private const string ResourceName = "Safeguard.Users.common-passwords.txt.gz";

    private static readonly Lazy<PasswordBlocklist> Shipped = new(Load);

    private readonly HashSet<string> _entries;

    private PasswordBlocklist(HashSet<string> entries) => _entries = entries;

    /// <summary>The list shipped with Safeguard.</summary>
    public static PasswordBlocklist Default => Shipped.Value;

    /// <summary>How many entries the list holds.</summary>
    public int Count => _entries.Count;

    /// <summary>Whether <paramref name="normalizedLower"/> (NFKC, lower-cased) is on the list.</summary>
    /// <param name="normalizedLower">The candidate.</param>
    /// <returns>True if listed.</returns>
    public bool Contains(string normalizedLower) => _entries.Contains(normalizedLower);

    private static PasswordBlocklist Load()
    {
        using var stream = typeof(PasswordBlocklist).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The password blocklist resource '{ResourceName}' is missing from the build.");
        using var gzip = new GZipStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var entries = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                entries.Add(line);
            }
        }

        return new PasswordBlocklist(entries);
    }
}
