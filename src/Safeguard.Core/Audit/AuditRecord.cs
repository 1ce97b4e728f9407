namespace Safeguard.Audit;

/// <summary>
/// An audit event as stored: its canonical bytes and chain hash, and its time (for time-range reads). The
/// verifier trusts only <see cref="Body"/> and <see cref="Hash"/>.
/// </summary>
public sealed record AuditRecord
{
    /// <summary>The chain (writer node).</summary>
    public required string Chain { get; init; }

    /// <summary>The position in the chain, from 1, gapless.</summary>
    public required long Sequence { get; init; }

    /// <summary>The event time, for time-range search.</summary>
    public required DateTimeOffset Time { get; init; }

#pragma warning disable CA1819 // Stored bytes, handed between the store and the verifier; never mutated.
    /// <summary>The canonical event (RFC 8785 JSON, UTF-8).</summary>
    public required byte[] Body { get; init; }

    /// <summary>SHA-256(previous hash || body).</summary>
    public required byte[] Hash { get; init; }
#pragma warning restore CA1819
}

/// <summary>The last event of a chain: where the writer continues.</summary>
/// <param name="Sequence">The last sequence number.</param>
/// <param name="Hash">Its hash.</param>
public sealed record AuditChainHead(long Sequence, byte[] Hash);

/// <summary>
/// A signed statement of a chain's head: <c>{chain, seq, head, from, root, iat}</c> as a JWS under the audit key,
/// where <c>root</c> is the RFC 6962 Merkle root over the events <c>from</c>..<c>seq</c> (for inclusion proofs).
/// </summary>
public sealed record AuditCheckpoint
{
    /// <summary>The chain.</summary>
    public required string Chain { get; init; }

    /// <summary>The sequence number whose hash is <see cref="HeadHash"/>.</summary>
    public required long Sequence { get; init; }

#pragma warning disable CA1819 // Stored bytes; never mutated.
    /// <summary>The hash of event <see cref="Sequence"/>.</summary>
    public required byte[] HeadHash { get; init; }
#pragma warning restore CA1819

    /// <summary>When it was signed.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The first sequence number of the interval the Merkle root covers; 0 where not read from a verified JWS.</summary>
    public long From { get; init; }

#pragma warning disable CA1819 // Signed bytes; never mutated.
    /// <summary>The Merkle root over events <see cref="From"/>..<see cref="Sequence"/>; empty where not read from a verified JWS.</summary>
    public byte[] Root { get; init; } = [];
#pragma warning restore CA1819

    /// <summary>The compact JWS (<c>typ: safeguard-audit-checkpoint+jwt</c>).</summary>
    public required string Jws { get; init; }
}
