using System.Buffers;
using System.Text;
using System.Text.Json;
using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>The verdict on an inclusion proof. <c>default</c> does not hold.</summary>
/// <param name="IsValid">Whether the proof holds.</param>
/// <param name="Detail">What was checked, or what failed.</param>
public readonly record struct AuditProofResult(bool IsValid, string? Detail)
{
    internal static AuditProofResult Invalid(string detail) => new(false, detail);

    internal static AuditProofResult Valid(string detail) => new(true, detail);
}

/// <summary>
/// Inclusion proofs: evidence that one event is in the trail under a signed checkpoint, shown without the rest of
/// the trail (no other event's content is disclosed). The proof carries the event's canonical bytes, the
/// previous chain hash, the RFC 6962 audit path from the event's leaf to the Merkle root of its checkpoint
/// interval, and the checkpoint JWS that signs that root.
/// </summary>
public static class AuditProofs
{
    /// <summary>The <c>format</c> of a proof document.</summary>
    public const string Format = "safeguard-audit-proof/v1";

    /// <summary>Builds the proof for an event, as a JSON document.</summary>
    /// <param name="store">The trail.</param>
    /// <param name="eventId">The event id.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>The proof, or null if the event is not found or no checkpoint covers it yet.</returns>
    public static async Task<string?> CreateAsync(IAuditStore store, string eventId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(eventId);
        var needle = Encoding.UTF8.GetBytes($"\"event_id\":\"{eventId}\"");
        foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
        {
            AuditRecord? found = null;
            var previous = AuditHash.Genesis(chain);
            await foreach (var record in store.ReadChainAsync(chain, 1, cancellationToken).ConfigureAwait(false))
            {
                if (record.Body.AsSpan().IndexOf(needle) >= 0)
                {
                    found = record;
                    break;
                }

                previous = record.Hash;
            }

            if (found is null)
            {
                continue;
            }

            // Each checkpoint's Merkle interval starts right after the one before it (the writer opens the next
            // interval with the checkpoint's marker event); the verifier checks this against the signed "from".
            var checkpoints = (await store.GetCheckpointsAsync(chain, cancellationToken).ConfigureAwait(false)).OrderBy(c => c.Sequence).ToList();
            var covering = checkpoints.FindIndex(c => c.Sequence >= found.Sequence);
            if (covering < 0)
            {
                return null;
            }

            var checkpoint = checkpoints[covering];
            var from = covering == 0 ? 1 : checkpoints[covering - 1].Sequence + 1;
            var leaves = new List<byte[]>();
            await foreach (var record in store.ReadChainAsync(chain, from, cancellationToken).ConfigureAwait(false))
            {
                if (record.Sequence > checkpoint.Sequence)
                {
                    break;
                }

                leaves.Add(AuditMerkle.LeafHash(record.Hash));
            }

            var index = (int)(found.Sequence - from);
            var path = AuditMerkle.Path(index, leaves);
            return Write(chain, found, previous, index, leaves.Count, path, checkpoint.Jws);
        }

        return null;
    }

    /// <summary>Verifies a proof document with the trusted audit keys.</summary>
    /// <param name="proof">The proof JSON.</param>
    /// <param name="trustedKeys">The audit public keys.</param>
    /// <returns>Whether it holds, and a sentence saying what was checked or what failed.</returns>
    public static AuditProofResult Verify(string proof, IReadOnlyList<SigningKey> trustedKeys)
    {
        ArgumentNullException.ThrowIfNull(proof);
        ArgumentNullException.ThrowIfNull(trustedKeys);
        try
        {
            using var document = JsonDocument.Parse(proof);
            var root = document.RootElement;
            if (root.GetProperty("format").GetString() != Format)
            {
                return AuditProofResult.Invalid("Not a Safeguard audit proof.");
            }

            var chain = root.GetProperty("chain").GetString()!;
            var sequence = root.GetProperty("seq").GetInt64();
            var body = Encoding.UTF8.GetBytes(root.GetProperty("event").GetRawText());
            var previous = Convert.FromHexString(root.GetProperty("prev").GetString()!);
            var index = root.GetProperty("leaf_index").GetInt64();
            var size = root.GetProperty("tree_size").GetInt64();
            var path = root.GetProperty("path").EnumerateArray().Select(p => Convert.FromHexString(p.GetString()!)).ToList();

            var checkpoint = AuditCheckpoints.Verify(root.GetProperty("checkpoint").GetString()!, trustedKeys);
            if (checkpoint is null || checkpoint.Chain != chain)
            {
                return AuditProofResult.Invalid("The checkpoint is not signed by a trusted audit key (or names another chain).");
            }

            if (AuditChainLink.BodySequence(body) != sequence || checkpoint.From + index != sequence || checkpoint.Sequence - checkpoint.From + 1 != size)
            {
                return AuditProofResult.Invalid("The event's position does not match the signed checkpoint interval.");
            }

            var hash = new byte[AuditHash.Size];
            AuditHash.Next(previous, body, hash);
            if (!AuditMerkle.VerifyPath(index, size, AuditMerkle.LeafHash(hash), path, checkpoint.Root))
            {
                return AuditProofResult.Invalid("The audit path does not lead from the event to the signed Merkle root: the event or the proof was altered.");
            }

            return AuditProofResult.Valid($"Event {sequence} of chain {chain} is included under the checkpoint signed at event {checkpoint.Sequence} ({checkpoint.Time:O}).");
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            return AuditProofResult.Invalid("The proof is malformed: " + ex.Message);
        }
    }

    private static string Write(string chain, AuditRecord record, byte[] previous, int index, int size, List<byte[]> path, string jws)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            writer.WriteString("chain", chain);
            writer.WriteNumber("seq", record.Sequence);
            writer.WritePropertyName("event");
            writer.WriteRawValue(record.Body);
            writer.WriteString("prev", Convert.ToHexStringLower(previous));
            writer.WriteNumber("leaf_index", index);
            writer.WriteNumber("tree_size", size);
            writer.WriteStartArray("path");
            foreach (var node in path)
            {
                writer.WriteStringValue(Convert.ToHexStringLower(node));
            }

            writer.WriteEndArray();
            writer.WriteString("checkpoint", jws);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
