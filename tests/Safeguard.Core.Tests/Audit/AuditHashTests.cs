using System.Security.Cryptography;
using System.Text;
using Safeguard.Audit;

namespace Safeguard.Tests.Audit;

public sealed class AuditHashTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(55)]
    [InlineData(56)]
    [InlineData(64)]
    [InlineData(655)]
    [InlineData(100_000)]
    public void Next_EqualsSha256OfPreviousThenEvent(int length)
    {
        var previous = RandomNumberGenerator.GetBytes(32);
        var body = RandomNumberGenerator.GetBytes(length);
        var expected = SHA256.HashData([.. previous, .. body]);
        var actual = new byte[32];

        AuditHash.Next(previous, body, actual);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Genesis_IsBoundToTheChain()
    {
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes("safeguard/audit/genesis/v1\nnode-a")), AuditHash.Genesis("node-a"));
        Assert.NotEqual(AuditHash.Genesis("node-a"), AuditHash.Genesis("node-b"));
    }

    [Fact]
    public void EventIds_AreVersion7AndUnique()
    {
        var now = DateTimeOffset.UnixEpoch.AddYears(56);
        var ids = Enumerable.Range(0, 10_000).Select(_ => AuditEventIds.New(now)).ToList();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id =>
        {
            Assert.True(Guid.TryParse(id, out var guid));
            Assert.Equal(7, guid.Version);
            Assert.Equal('7', id[14]);
        });
        Assert.StartsWith(now.ToUnixTimeMilliseconds().ToString("x12", System.Globalization.CultureInfo.InvariantCulture)[..8], ids[0].Replace("-", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
