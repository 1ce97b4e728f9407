using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Safeguard.Keys;

namespace Safeguard.Jose;

/// <summary>A JWS that passed its policy and its signature: the header and the payload (dispose it).</summary>
/// <param name="Header">The header values.</param>
/// <param name="Payload">The strictly read payload.</param>
/// <param name="Key">The key that verified it.</param>
internal readonly record struct VerifiedJws(JwsHeader Header, JsonPayload Payload, JwkPublicKey Key) : IDisposable
{
    public void Dispose() => Payload.Dispose();
}

/// <summary>
/// Reads and verifies a JWS under its policy in one step, for the uses off the hot path (client assertions, audit
/// checkpoints, archive manifests): <see cref="JwsReader.Read"/>, then <c>typ</c>, then a key from the caller's
/// trusted set (by <c>kid</c> when the header has one; the key must fit <c>alg</c>), then the signature. The payload is
/// returned only from a valid signature.
/// </summary>
internal static class JwsVerifier
{
    /// <summary>The most keys tried for one JWS without a <c>kid</c>: as many as a client may register (<c>ClientJwks.MaxKeys</c>), and no more.</summary>
    public const int MaxKeysTried = 16;

    /// <summary>Verifies <paramref name="jws"/>.</summary>
    /// <param name="jws">The compact serialization.</param>
    /// <param name="policy">Its policy.</param>
    /// <param name="trusted">The keys that may have signed it.</param>
    /// <param name="verified">The header and payload, on success.</param>
    /// <returns><see cref="JwsError.None"/>, or the first rule broken.</returns>
    public static JwsError Verify(string? jws, JwsPolicy policy, IReadOnlyList<JwkPublicKey> trusted, out VerifiedJws verified)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(trusted);
        verified = default;
        var error = JwsReader.Read<JsonPayload>(jws, policy, out var header, out var payload, out var segments);
        if (error != JwsError.None)
        {
            return error;
        }

        JwkPublicKey? key = null;
        if (!policy.AllowsType(header.Type))
        {
            error = JwsError.TypeNotAllowed;
        }
        else
        {
            key = VerifyWithTrusted(jws!, header, segments, trusted, out error);
        }

        if (error != JwsError.None)
        {
            payload.Dispose();
            return error;
        }

        verified = new VerifiedJws(header, payload, key!);
        return JwsError.None;
    }

    /// <summary>Checks a signature with one key (the verifier has read the JWS under its policy).</summary>
    /// <param name="jws">The compact serialization.</param>
    /// <param name="algorithm">The header's <c>alg</c>.</param>
    /// <param name="segments">Where the parts are.</param>
    /// <param name="key">The key.</param>
    /// <returns>True for a valid signature.</returns>
    public static bool VerifySignature(string jws, string? algorithm, JwsSegments segments, JwkPublicKey key)
    {
        var signatureChars = jws.AsSpan()[segments.Signature];
        if (signatureChars.IsEmpty)
        {
            return false;
        }

        var input = ArrayPool<byte>.Shared.Rent(segments.SigningInputLength);
        var signature = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(signatureChars.Length));
        try
        {
            var inputLength = Encoding.ASCII.GetBytes(jws.AsSpan(0, segments.SigningInputLength), input);
            return Base64Url.DecodeFromChars(signatureChars, signature, out _, out var signatureLength) == OperationStatus.Done
                && key.Verify(algorithm, input.AsSpan(0, inputLength), signature.AsSpan(0, signatureLength));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(signature);
        }
    }

    private static JwkPublicKey? VerifyWithTrusted(string jws, JwsHeader header, JwsSegments segments, IReadOnlyList<JwkPublicKey> trusted, out JwsError error)
    {
        var tried = 0;
        var any = false;
        foreach (var key in trusted)
        {
            if ((header.KeyId is not null && !string.Equals(key.KeyId, header.KeyId, StringComparison.Ordinal)) || !key.Fits(header.Algorithm))
            {
                continue;
            }

            any = true;
            if (VerifySignature(jws, header.Algorithm, segments, key))
            {
                error = JwsError.None;
                return key;
            }

            if (++tried == MaxKeysTried)
            {
                break;
            }
        }

        error = any ? JwsError.SignatureInvalid : JwsError.KeyUnknown;
        return null;
    }
}
