using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Safeguard.Dpop;

/// <summary>
/// Server-provided DPoP nonces (RFC 9449 section 8): stateless, so every node that shares the key accepts every
/// other node's nonces. A nonce is a time step and an HMAC-SHA-256 over it; it is accepted during its own step and
/// the next, so a nonce lives between one and two steps.
/// </summary>
public sealed class DpopNonces : IDisposable
{
    private const int MacLength = 16;
    private readonly byte[] _key;
    private readonly TimeProvider _time;
    private readonly long _stepSeconds;

    /// <summary>Creates the nonce source.</summary>
    /// <param name="key">At least 32 bytes, the same on every node (derived from the key-encryption key).</param>
    /// <param name="step">How long one nonce is current. Default 5 minutes.</param>
    /// <param name="timeProvider">The clock.</param>
    public DpopNonces(ReadOnlySpan<byte> key, TimeSpan step, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (key.Length < 32)
        {
            throw new ArgumentException("The nonce key must be at least 32 bytes.", nameof(key));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(step, TimeSpan.FromSeconds(10));
        _key = key.ToArray();
        _stepSeconds = (long)step.TotalSeconds;
        _time = timeProvider;
    }

    /// <summary>The nonce to hand out now.</summary>
    /// <returns>A base64url nonce.</returns>
    public string Current() => Create(CurrentStep());

    /// <summary>Whether <paramref name="nonce"/> is one of ours, of the current or the previous step.</summary>
    /// <param name="nonce">The nonce from a proof.</param>
    /// <returns>True if accepted.</returns>
    public bool IsValid(string? nonce)
    {
        if (nonce is null || nonce.Length != Base64Url.GetEncodedLength(8 + MacLength))
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[8 + MacLength];
        if (Base64Url.DecodeFromChars(nonce, raw, out _, out var written) != System.Buffers.OperationStatus.Done || written != raw.Length)
        {
            return false;
        }

        var step = BinaryPrimitives.ReadInt64BigEndian(raw);
        var current = CurrentStep();
        if (step != current && step != current - 1)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[32];
        Mac(raw[..8], expected);
        return CryptographicOperations.FixedTimeEquals(expected[..MacLength], raw[8..]);
    }

    /// <inheritdoc />
    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    private long CurrentStep() => _time.GetUtcNow().ToUnixTimeSeconds() / _stepSeconds;

    private string Create(long step)
    {
        Span<byte> raw = stackalloc byte[8 + 32];
        BinaryPrimitives.WriteInt64BigEndian(raw, step);
        Mac(raw[..8], raw[8..]);
        return Base64Url.EncodeToString(raw[..(8 + MacLength)]);
    }

    private void Mac(ReadOnlySpan<byte> data, Span<byte> destination) => HMACSHA256.HashData(_key, data, destination);
}
