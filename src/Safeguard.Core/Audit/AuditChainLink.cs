using System.Buffers.Text;

namespace Safeguard.Audit;

/// <summary>How one record stands to the record before it in its chain.</summary>
internal enum AuditLinkVerdict
{
    /// <summary>It hashes right and follows its predecessor.</summary>
    Linked,

    /// <summary>Its bytes do not hash to its stated hash from its stated predecessor: it was modified.</summary>
    Modified,

    /// <summary>The sequence number in its body is not the one it is stored or listed under.</summary>
    Renumbered,

    /// <summary>It is the next record, but its predecessor hash is not the previous record's hash.</summary>
    Detached,

    /// <summary>Records are missing before it.</summary>
    Gap,

    /// <summary>It comes before a record already seen.</summary>
    Reordered,

    /// <summary>It is event 1 but does not follow the chain's genesis.</summary>
    NotFromGenesis,
}

/// <summary>
/// The rule every link of the trail satisfies, checked in one place for the database verifier
/// (<see cref="AuditVerifier"/>) and the JSON Lines verifier (<see cref="AuditJsonlVerifier"/>): the event at sequence
/// <c>n</c> says <c>n</c> in its own body and hashes to <c>h_n = SHA-256(h_(n-1) || canonical event)</c>, where
/// <c>h_0</c> is the chain's genesis.
/// </summary>
internal static class AuditChainLink
{
    /// <summary>Whether <paramref name="body"/> hashes to <paramref name="hash"/> after <paramref name="previous"/>.</summary>
    public static bool Hashes(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> body, ReadOnlySpan<byte> hash)
    {
        Span<byte> computed = stackalloc byte[AuditHash.Size];
        Sha256.Hash(previous, body, computed);

        // Nothing secret is compared, so no constant-time comparison (FixedTimeEquals runs unoptimized by design
        // and costs more than the hash of a short event).
        return computed.SequenceEqual(hash);
    }

    /// <summary>
    /// Checks a record read in chain order after <paramref name="lastSequence"/> (null for the first record read). With
    /// <paramref name="gapsAllowed"/> (a filtered export) a jump forward is not a finding.
    /// </summary>
    public static AuditLinkVerdict Check(
        string chain, long sequence, ReadOnlySpan<byte> previous, ReadOnlySpan<byte> body, ReadOnlySpan<byte> hash,
        long? lastSequence, ReadOnlySpan<byte> lastHash, bool gapsAllowed)
    {
        if (!Hashes(previous, body, hash))
        {
            return AuditLinkVerdict.Modified;
        }

        if (BodySequence(body) != sequence)
        {
            return AuditLinkVerdict.Renumbered;
        }

        if (lastSequence is { } last)
        {
            if (sequence == last + 1 && !previous.SequenceEqual(lastHash))
            {
                return AuditLinkVerdict.Detached;
            }

            if (sequence <= last)
            {
                return AuditLinkVerdict.Reordered;
            }

            if (sequence > last + 1 && !gapsAllowed)
            {
                return AuditLinkVerdict.Gap;
            }
        }

        return sequence == 1 && !previous.SequenceEqual(AuditHash.Genesis(chain)) ? AuditLinkVerdict.NotFromGenesis : AuditLinkVerdict.Linked;
    }

    /// <summary>
    /// The <c>seq</c> member of a canonical event, read without parsing: members are sorted and <c>seq</c> is
    /// never first, so it is the only place the bytes <c>,"seq":</c> occur (inside a string a quote is escaped).
    /// It sits near the end (only sid, source_ip, sub, time, type and user_agent follow), so search backwards.
    /// </summary>
    public static long BodySequence(ReadOnlySpan<byte> body)
    {
        var at = body.LastIndexOf(",\"seq\":"u8);
        if (at < 0)
        {
            return -1;
        }

        return Utf8Parser.TryParse(body[(at + 7)..], out long value, out _) ? value : -1;
    }
}
