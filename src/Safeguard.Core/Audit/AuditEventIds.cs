using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Safeguard.Audit;

/// <summary>
/// Event ids: UUIDv7 (RFC 9562 section 5.7), time-ordered, with 74 random bits from the CSPRNG. The random bits
/// are drawn from a per-thread buffer refilled 4 KB at a time, because <see cref="Guid.CreateVersion7()"/> asks
/// the operating system for randomness on every call, which costs more than writing the event.
/// </summary>
public static class AuditEventIds
{
    private const int PoolSize = 4096;

    [ThreadStatic]
    private static byte[]? t_pool;

    [ThreadStatic]
    private static int t_used;

    /// <summary>A new UUIDv7 for an event at <paramref name="time"/>, in the standard 8-4-4-4-12 form.</summary>
    /// <param name="time">The event time (its milliseconds order the ids).</param>
    /// <returns>The id.</returns>
    public static string New(DateTimeOffset time)
    {
        var pool = t_pool;
        if (pool is null || t_used + 10 > PoolSize)
        {
            pool = t_pool ??= new byte[PoolSize];
            RandomNumberGenerator.Fill(pool);
            t_used = 0;
        }

        Span<byte> bytes = stackalloc byte[16];
        var milliseconds = (ulong)time.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteUInt64BigEndian(bytes, milliseconds << 16);
        pool.AsSpan(t_used, 10).CopyTo(bytes[6..]);
        pool.AsSpan(t_used, 10).Clear();
        t_used += 10;
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true).ToString();
    }
}
