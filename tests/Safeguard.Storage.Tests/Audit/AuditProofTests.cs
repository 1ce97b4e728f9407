using System.Security.Cryptography;
using Safeguard.Audit;

namespace Safeguard.Storage.Tests.Audit;

public sealed class AuditProofTests
{
    [Fact]
    public void Merkle_FrontierRootEqualsTheRfc6962RootForEverySize()
    {
        var leaves = new List<byte[]>();
        var frontier = Array.Empty<byte[]>();
        for (var n = 1; n <= 70; n++)
        {
            var leaf = AuditMerkle.LeafHash(RandomNumberGenerator.GetBytes(32));
            frontier = AuditMerkle.Append(frontier, leaves.Count, leaf);
            leaves.Add(leaf);

            var root = AuditMerkle.Root(leaves);
            Assert.Equal(root, AuditMerkle.FrontierRoot(frontier));
            for (var m = 0; m < n; m++)
            {
                Assert.True(AuditMerkle.VerifyPath(m, n, leaves[m], AuditMerkle.Path(m, leaves), root), $"path {m} of {n}");
            }
        }
    }

    [Fact]
    public void Merkle_RejectsAWrongLeafIndexOrSibling()
    {
        var leaves = Enumerable.Range(0, 11).Select(_ => AuditMerkle.LeafHash(RandomNumberGenerator.GetBytes(32))).ToList();
        var root = AuditMerkle.Root(leaves);
        var path = AuditMerkle.Path(5, leaves);

        Assert.False(AuditMerkle.VerifyPath(4, 11, leaves[5], path, root));

        // A different tree shape cannot reuse the path (the size itself is bound by the signed checkpoint).
        Assert.False(AuditMerkle.VerifyPath(5, 6, leaves[5], path, root));
        path[1] = RandomNumberGenerator.GetBytes(32);
        Assert.False(AuditMerkle.VerifyPath(5, 11, leaves[5], path, root));
    }

    [Fact]
    public void Merkle_MatchesTheRfc6962DefinitionOnAKnownInput()
    {
        // Three leaves: MTH = H(0x01 || H(0x01 || l0 || l1) || l2), written out by hand from RFC 6962 section 2.1.
        var l = Enumerable.Range(0, 3).Select(i => AuditMerkle.LeafHash(SHA256.HashData([(byte)i]))).ToList();
        var expected = SHA256.HashData([0x01, .. SHA256.HashData([0x01, .. l[0], .. l[1]]), .. l[2]]);

        Assert.Equal(expected, AuditMerkle.Root(l));
        Assert.Equal(SHA256.HashData([0x00, .. SHA256.HashData([0])]), l[0]);
    }

    [Fact]
    public async Task Prove_LinksAnEventToItsSignedCheckpoint()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 16);
        var target = AuditTrailFixture.Event(7);
        await trail.AppendAsync(30);
        await trail.Writer.AppendAsync(target, CancellationToken.None);
        await trail.AppendAsync(30);
        await trail.Writer.StopAsync();
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);

        var proof = await AuditProofs.CreateAsync(trail.Store, target.EventId, CancellationToken.None);
        var (valid, detail) = AuditProofs.Verify(proof!, trail.Keys.Trusted);

        Assert.NotNull(proof);
        Assert.True(valid, detail);
        Assert.Contains(target.EventId, proof, StringComparison.Ordinal);
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task Prove_WorksAcrossAWriterRestart()
    {
        // The restarted writer rebuilds the open interval's Merkle frontier from the store.
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 16);
        await trail.AppendAsync(20);
        await trail.Writer.StopAsync();
        await using var again = trail.NewWriter();
        await again.StartAsync(CancellationToken.None);
        var target = AuditTrailFixture.Event(5);
        await again.AppendAsync(target, CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            await again.AppendAsync(AuditTrailFixture.Event(100 + i), CancellationToken.None);
        }

        await again.StopAsync();
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);

        var proof = await AuditProofs.CreateAsync(trail.Store, target.EventId, CancellationToken.None);
        var (valid, detail) = AuditProofs.Verify(proof!, trail.Keys.Trusted);

        Assert.True(valid, detail);
    }

    [Theory]
    [InlineData("the event edited")]
    [InlineData("the path edited")]
    [InlineData("the checkpoint's signature forged")]
    [InlineData("the leaf index moved")]
    public async Task Verify_RejectsAnAlteredProof(string alteration)
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 16);
        var target = AuditTrailFixture.Event(7);
        await trail.AppendAsync(20);
        await trail.Writer.AppendAsync(target, CancellationToken.None);
        await trail.AppendAsync(20);
        await trail.Writer.StopAsync();
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        var proof = (await AuditProofs.CreateAsync(trail.Store, target.EventId, CancellationToken.None))!;

        var altered = alteration switch
        {
            "the event edited" => proof.Replace("\"outcome\":\"success\"", "\"outcome\":\"denied\"", StringComparison.Ordinal),
            "the path edited" => System.Text.RegularExpressions.Regex.Replace(proof, "(\"path\": \\[\\s*\")([0-9a-f])", m => m.Groups[1].Value + (m.Groups[2].Value == "0" ? "1" : "0")),
            "the checkpoint's signature forged" => proof[..(proof.LastIndexOf('.') + 1)] + new string('A', 86) + "\"\n}",
            _ => System.Text.RegularExpressions.Regex.Replace(proof, "\"leaf_index\": (\\d+)", m => "\"leaf_index\": " + (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1)),
        };
        Assert.NotEqual(proof, altered);

        var (valid, _) = AuditProofs.Verify(altered, trail.Keys.Trusted);

        Assert.False(valid);
    }
}
