using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Options;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed class PasswordPolicyTests
{
    private readonly PasswordPolicy _policy = new(Options.Create(new PasswordOptions()));

    [Theory]
    [InlineData("fourteen chars", false, false)]       // 14: too short as the only factor
    [InlineData("fifteen chars!!", false, true)]       // 15: long enough as the only factor
    [InlineData("seven c", true, false)]               // 7: too short even with MFA
    [InlineData("eight ch", true, true)]               // 8: long enough with MFA
    public void Length_Is15AsTheOnlyFactor_And8WithMfa(string password, bool hasMfa, bool allowed)
    {
        var check = _policy.Check(password, hasMfa, "jsmith", null);

        Assert.Equal(allowed, check.Allowed);
        if (!allowed)
        {
            Assert.Equal(PasswordProblem.TooShort, check.Problem);
            Assert.Contains(hasMfa ? "at least 8" : "at least 15", check.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void LengthCountsCodePoints_AfterNfkc()
    {
        // Eight emoji are 16 UTF-16 units but eight characters; four fullwidth letters normalise to four ASCII ones.
        Assert.True(_policy.Check("\U0001F600\U0001F431\U0001F333\U0001F680\U0001F3B5\U0001F34E\U0001F308\U0001F9ED", true, "jsmith", null).Allowed);
        Assert.Equal(PasswordProblem.TooShort, _policy.Check(string.Concat(Enumerable.Repeat("\U0001F600", 7)), true, "jsmith", null).Problem);
    }

    [Fact]
    public void AtLeast64CharactersAreAllowed_AndLongerThanTheMaximumIsRefusedNotTruncated()
    {
        var sixtyFour = "tidal moss under quiet brass lanterns hums beside orchards at du";
        Assert.Equal(64, sixtyFour.Length);

        Assert.True(_policy.Check(sixtyFour, false, "jsmith", null).Allowed);
        Assert.True(_policy.Check(string.Concat(Enumerable.Repeat("plum harbor ", 21)), false, "jsmith", null).Allowed); // 252
        Assert.Equal(PasswordProblem.TooLong, _policy.Check(string.Concat(Enumerable.Repeat("plum harbor ", 22)), false, "jsmith", null).Problem); // 264
    }

    [Theory]
    [InlineData("correct horse battery staple")]   // lower case and spaces only: no composition rules
    [InlineData("ÉTÉ À MONTRÉAL SOUS LA NEIGE")]
    [InlineData("7391 0462 8825 1937")]
    public void NoCompositionRules(string password) => Assert.True(_policy.Check(password, false, "jsmith", null).Allowed);

    [Theory]
    [InlineData("baseball")]
    [InlineData("BaseBall")]        // case-insensitive
    [InlineData("baseball12!")]     // a listed password with a few digits or symbols added
    [InlineData("qwertyuiop")]
    [InlineData("ｂａｓｅｂａｌｌ")] // fullwidth letters normalise to a listed password
    public void CommonAndBreachedPasswords_AreRefused(string password)
    {
        var check = _policy.Check(password, true, "jsmith", null);

        Assert.Equal(PasswordProblem.Common, check.Problem);
        Assert.Contains("common or breached", check.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zzzzzzzzzzzzzzzzzz")]
    [InlineData("abcdefghijklmnopqr")]
    [InlineData("zyxwvutsrqponmlkji")]
    [InlineData("xq7!xq7!xq7!xq7!")]
    public void RepetitionsAndRuns_AreRefused(string password) => Assert.Equal(PasswordProblem.Common, _policy.Check(password, false, "jsmith", null).Problem);

    [Theory]
    [InlineData("jsmith2024!!", "jsmith", null)]
    [InlineData("JSmith#99", "jsmith", null)]
    [InlineData("pat.lee@clinic.example", "plee", "pat.lee@clinic.example")]
    [InlineData("pat.lee!!!", "plee", "pat.lee@clinic.example")]
    [InlineData("safeguard2026", "jsmith", null)]
    public void PasswordsBuiltFromTheUsernameEmailOrServiceName_AreRefused(string password, string username, string? email) =>
        Assert.Equal(PasswordProblem.Contextual, _policy.Check(password, true, username, email).Problem);

    [Fact]
    public void TheUsernameInsideALongPassphrase_IsFine() =>
        Assert.True(_policy.Check("jsmith walks the long dunes at dawn", false, "jsmith", null).Allowed);

    [Fact]
    public void InvalidText_IsRefusedWithAMessage()
    {
        Assert.Equal(PasswordProblem.Invalid, _policy.Check("abc\uD800defghijklmnop", false, "jsmith", null).Problem);
        Assert.Equal(PasswordProblem.Invalid, _policy.Check("tab\tinside a long password", false, "jsmith", null).Problem);
    }

    [Fact]
    public void TheShippedBlocklist_HoldsOnlyEntriesTheLengthRuleLetsThrough_NormalisedAndSorted()
    {
        using var stream = typeof(PasswordBlocklist).Assembly.GetManifestResourceStream("Safeguard.Users.common-passwords.txt.gz")!;
        using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress), Encoding.UTF8);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(PasswordBlocklist.Default.Count, lines.Length);
        Assert.True(lines.Length > 15_000, $"only {lines.Length} entries");
        Assert.All(lines, l => Assert.True(l.EnumerateRunes().Count() >= 8 && string.Equals(l, l.Normalize(NormalizationForm.FormKC).ToLowerInvariant(), StringComparison.Ordinal), l));
        Assert.Equal(lines.Order(StringComparer.Ordinal), lines);
    }

    [Fact]
    public void Options_BelowNistMinimums_AreRefused_EveryErrorAtOnce()
    {
        var result = new PasswordOptionsValidator().Validate(null, new PasswordOptions
        {
            MinimumLength = 12,
            MinimumLengthWithMfa = 6,
            MaximumLength = 32,
            HashMemoryKib = 4096,
            HashIterations = 0,
            MaxConcurrentHashes = 0,
            HashQueueTimeout = TimeSpan.Zero,
        });

        Assert.True(result.Failed);
        Assert.Equal(7, result.Failures.Count());
        Assert.Contains(result.Failures, f => f.Contains("MinimumLength is 12", StringComparison.Ordinal));
        Assert.Contains(result.Failures, f => f.Contains("MaximumLength is 32", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_BelowOwaspsHashCost_AreRefused()
    {
        var result = new PasswordOptionsValidator().Validate(null, new PasswordOptions { HashMemoryKib = 8192, HashIterations = 2 });

        Assert.Contains(result.Failures!, f => f.Contains("OWASP", StringComparison.Ordinal));
        Assert.True(new PasswordOptionsValidator().Validate(null, new PasswordOptions { HashMemoryKib = 7168, HashIterations = 5 }).Succeeded);
    }
}
