using System.Security.Cryptography;
using System.Text;

namespace Safeguard.Audit;

/// <summary>
/// The chain rule: <c>hash_n = SHA-256(hash_(n-1) || canonical(event_n))</c>, with
/// <c>hash_0 = SHA-256("safeguard/audit/genesis/v1\n" || chain)</c>, so a chain cannot be spliced onto another.
/// </summary>
public static class AuditHash
{
    /// <summary>The hash length in bytes.</summary>
    public const int Size = SHA256.HashSizeInBytes;

    /// <summary>The genesis value of a chain (the "previous hash" of event 1).</summary>
    /// <param name="chain">The chain id.</param>
    /// <returns>32 bytes.</returns>
    public static byte[] Genesis(string chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        return SHA256.HashData(Encoding.UTF8.GetBytes("safeguard/audit/genesis/v1\n" + chain));
    }

    /// <summary>The hash of an event given the previous hash.</summary>
    /// <param name="previous">The previous event's hash (or the genesis).</param>
    /// <param name="canonicalEvent">The event's canonical bytes.</param>
    /// <param name="destination">32 bytes to receive the hash.</param>
    public static void Next(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> canonicalEvent, Span<byte> destination)
    {
        Sha256.Hash(previous, canonicalEvent, destination);
    }
}
