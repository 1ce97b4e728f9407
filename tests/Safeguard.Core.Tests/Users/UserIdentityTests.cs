using Safeguard.Clients;
using Safeguard.Users;

namespace Safeguard.Core.Tests.Users;

public sealed class UserIdentityTests
{
    [Fact]
    public void Subjects_AreOpaqueRandomAndWellFormed()
    {
        var subjects = Enumerable.Range(0, 10_000).Select(_ => UserSubjects.New()).ToList();

        Assert.Equal(subjects.Count, subjects.Distinct(StringComparer.Ordinal).Count());
        Assert.All(subjects, s =>
        {
            Assert.Equal(30, s.Length);
            Assert.StartsWith("usr_", s, StringComparison.Ordinal);
            Assert.True(UserSubjects.IsWellFormed(s));
        });
        Assert.False(UserSubjects.IsWellFormed("usr_" + new string('1', 26)));
        Assert.False(UserSubjects.IsWellFormed("USR_" + new string('a', 26)));
    }

    [Theory]
    [InlineData("usr_billing")]
    [InlineData("USR_abc")]
    public void AClientIdShapedLikeAUserSubject_CannotBeRegistered(string clientId)
    {
        var result = ClientRegistrationValidator.Validate(new ClientRegistration { ClientId = clientId, GrantTypes = [GrantTypes.ClientCredentials], AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic });

        Assert.Contains(result.Errors, e => e.Contains("reserved for user subjects", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("jsmith", "jsmith")]
    [InlineData("  Dr.Jane-Doe ", "Dr.Jane-Doe")]
    [InlineData("josé.garcía", "josé.garcía")]
    [InlineData("ｊｓｍｉｔｈ", "jsmith")] // fullwidth: NFKC
    [InlineData("n.nurse@clinic.example", "n.nurse@clinic.example")]
    public void Usernames_AreNormalisedToNfkc(string proposed, string expected)
    {
        Assert.True(Usernames.TryNormalize(proposed, out var username, out _));
        Assert.Equal(expected, username);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("has space")]
    [InlineData(".leadingdot")]
    [InlineData("usr_abcdefghijklmnopqrstuvwxyz")]
    [InlineData("semi;colon")]
    [InlineData("a\uD800b")]
    public void BadUsernames_AreRefusedWithAReason(string proposed)
    {
        Assert.False(Usernames.TryNormalize(proposed, out _, out var error));
        Assert.NotNull(error);
    }

    [Fact]
    public void UsernameKeys_IgnoreCase() => Assert.Equal(Usernames.Key("JSmith"), Usernames.Key("jsmith"));

    [Theory]
    [InlineData("a@b.example", true)]
    [InlineData("no-at-sign.example", false)]
    [InlineData("two@@b.example", false)]
    [InlineData("x@nodot", false)]
    [InlineData("sp ace@b.example", false)]
    public void Emails_AreChecked(string proposed, bool ok) => Assert.Equal(ok, Usernames.TryNormalizeEmail(proposed, out _, out _));

    [Fact]
    public void Roles_AreSortedDistinctAndChecked()
    {
        Assert.True(Usernames.TryNormalizeRoles(["nurse", "admin", "nurse", "ward:3 clinician"], out var roles, out _));
        Assert.Equal(["admin", "clinician", "nurse", "ward:3"], roles);
        Assert.False(Usernames.TryNormalizeRoles(["Admin"], out _, out var error));
        Assert.Contains("'Admin'", error, StringComparison.Ordinal);
        Assert.False(Usernames.TryNormalizeRoles(Enumerable.Range(0, 33).Select(i => "r" + i), out _, out _));
    }
}
