namespace Safeguard.Audit;

/// <summary>
/// The RFC 6962 / RFC 9162 Merkle tree over the events of one checkpoint interval, so one event can be proven
/// to be under a signed checkpoint with log2(N) hashes instead of the whole interval. Leaves are the events'
/// chain hashes: <c>leaf = SHA-256(0x00 || hash_i)</c>, <c>node = SHA-256(0x01 || left || right)</c>.
/// </summary>
public static class AuditMerkle
{
    /// <summary>The leaf hash of an event whose chain hash is <paramref name="chainHash"/>.</summary>
    /// <param name="chainHash">The event's chain hash.</param>
    /// <returns>32 bytes.</returns>
    public static byte[] LeafHash(ReadOnlySpan<byte> chainHash)
    {
        var result = new byte[AuditHash.Size];
        Sha256.Hash([0x00], chainHash, result);
        return result;
    }

    /// <summary>An interior node.</summary>
    /// <param name="left">The left child.</param>
    /// <param name="right">The right child.</param>
    /// <returns>32 bytes.</returns>
    public static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> input = stackalloc byte[1 + (2 * AuditHash.Size)];
        input[0] = 0x01;
        left.CopyTo(input[1..]);
        right.CopyTo(input[(1 + AuditHash.Size)..]);
        var result = new byte[AuditHash.Size];
        Sha256.Hash(input, result);
        return result;
    }

    /// <summary>MTH(D[n]) of RFC 6962 section 2.1 over leaf hashes.</summary>
    /// <param name="leaves">The leaf hashes, at least one.</param>
    /// <returns>The root.</returns>
    public static byte[] Root(IReadOnlyList<byte[]> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        return Root(leaves, 0, leaves.Count);
    }

    /// <summary>The audit path PATH(m, D[n]) of RFC 6962 section 2.1.1, leaf to root.</summary>
    /// <param name="index">The leaf index m.</param>
    /// <param name="leaves">The leaf hashes D[n].</param>
    /// <returns>The sibling hashes, bottom up.</returns>
    public static List<byte[]> Path(int index, IReadOnlyList<byte[]> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, leaves.Count);
        var path = new List<byte[]>();
        AddPath(index, leaves, 0, leaves.Count, path);
        return path;
    }

    /// <summary>Checks an inclusion proof (RFC 9162 section 2.1.3.2).</summary>
    /// <param name="index">The leaf index.</param>
    /// <param name="treeSize">The number of leaves.</param>
    /// <param name="leafHash">The leaf hash.</param>
    /// <param name="path">The audit path, bottom up.</param>
    /// <param name="root">The signed root.</param>
    /// <returns>True if the path leads from the leaf to the root.</returns>
    public static bool VerifyPath(long index, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> path, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (index < 0 || index >= treeSize)
        {
            return false;
        }

        var fn = index;
        var sn = treeSize - 1;
        var r = leafHash.ToArray();
        foreach (var p in path)
        {
            if (sn == 0 || p.Length != AuditHash.Size)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while (fn != 0 && (fn & 1) == 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && r.AsSpan().SequenceEqual(root);
    }

    /// <summary>
    /// Appends a leaf to a frontier: the roots of the perfect subtrees that make up the tree so far, largest first.
    /// The frontier is copied, never changed, so a sealed batch can be dropped without undoing anything.
    /// </summary>
    /// <param name="frontier">The frontier before.</param>
    /// <param name="count">How many leaves it holds.</param>
    /// <param name="leafHash">The new leaf.</param>
    /// <returns>The frontier after.</returns>
    public static byte[][] Append(byte[][] frontier, long count, byte[] leafHash)
    {
        ArgumentNullException.ThrowIfNull(frontier);
        var stack = new List<byte[]>(frontier.Length + 1);
        stack.AddRange(frontier);
        stack.Add(leafHash);

        // Merge while the two rightmost subtrees have equal size: the trailing one-bits of the old count.
        for (var c = count; (c & 1) == 1; c >>= 1)
        {
            var right = stack[^1];
            var left = stack[^2];
            stack.RemoveRange(stack.Count - 2, 2);
            stack.Add(NodeHash(left, right));
        }

        return [.. stack];
    }

    /// <summary>The root of a frontier (RFC 6962 MTH of the leaves it was built from).</summary>
    /// <param name="frontier">A non-empty frontier.</param>
    /// <returns>The root.</returns>
    public static byte[] FrontierRoot(byte[][] frontier)
    {
        ArgumentNullException.ThrowIfNull(frontier);
        var root = frontier[^1];
        for (var i = frontier.Length - 2; i >= 0; i--)
        {
            root = NodeHash(frontier[i], root);
        }

        return root;
    }

    private static byte[] Root(IReadOnlyList<byte[]> leaves, int start, int count)
    {
        if (count == 1)
        {
            return leaves[start];
        }

        var k = LargestPowerOfTwoBelow(count);
        return NodeHash(Root(leaves, start, k), Root(leaves, start + k, count - k));
    }

    private static void AddPath(int index, IReadOnlyList<byte[]> leaves, int start, int count, List<byte[]> path)
    {
        if (count == 1)
        {
            return;
        }

        var k = LargestPowerOfTwoBelow(count);
        if (index < k)
        {
            AddPath(index, leaves, start, k, path);
            path.Add(Root(leaves, start + k, count - k));
        }
        else
        {
            AddPath(index - k, leaves, start + k, count - k, path);
            path.Add(Root(leaves, start, k));
        }
    }

    private static int LargestPowerOfTwoBelow(int n)
    {
        var k = 1;
        while (k << 1 < n)
        {
            k <<= 1;
        }

        return k;
    }
}
