using System.Text;
using System.Text.Json;
using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>
/// Re-verifies a JSON Lines export on its own, without the database: each event line must hash to its stated
/// hash from its stated previous hash, consecutive lines of a chain must link, the event's own sequence number
/// must match the line's, a line at sequence 1 must follow the chain's genesis, and every checkpoint line must be
/// signed by a trusted audit key and match the event it covers.
/// </summary>
public static class AuditJsonlVerifier
{
    /// <summary>Verifies an export.</summary>
    /// <param name="input">The JSON Lines.</param>
    /// <param name="trustedKeys">The audit public keys.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>One report per chain found.</returns>
    public static async Task<AuditVerificationReport> VerifyAsync(TextReader input, IReadOnlyList<SigningKey> trustedKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(trustedKeys);
        var chains = new Dictionary<string, ChainState>(StringComparer.Ordinal);
        string? line;
        var lineNumber = 0L;
        var filtered = false;
        while ((line = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false)) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                Problem(chains, "(unknown)", AuditProblemKind.Modified, lineNumber, $"Line {lineNumber} is not JSON.");
                continue;
            }

            using (document)
            {
                try
                {
                    var root = document.RootElement;
                    if (root.TryGetProperty("format", out var format))
                    {
                        // The header: a filtered export has gaps by design; each line and checkpoint still verifies.
                        filtered = format.GetString() == AuditExport.JsonlFormat && root.TryGetProperty("filtered", out var f) && f.ValueKind == JsonValueKind.True;
                        continue;
                    }

                    var chain = root.TryGetProperty("chain", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "(unknown)";
                    var state = chains.TryGetValue(chain, out var s) ? s : chains[chain] = new ChainState(chain);
                    if (root.TryGetProperty("checkpoint", out var checkpointSequence))
                    {
                        var jws = root.TryGetProperty("jws", out var j) ? j.GetString() ?? string.Empty : string.Empty;
                        var verified = AuditCheckpoints.Verify(jws, trustedKeys);
                        if (verified is null || verified.Chain != chain || verified.Sequence != checkpointSequence.GetInt64())
                        {
                            state.Add(AuditProblemKind.BadSignature, checkpointSequence.GetInt64(), $"The checkpoint at event {checkpointSequence.GetInt64()} is not signed by a trusted audit key.");
                        }
                        else
                        {
                            state.HighestCheckpoint = Math.Max(state.HighestCheckpoint, verified.Sequence);
                            if (state.LastSequence != verified.Sequence)
                            {
                                // In an export a checkpoint follows the event it covers; anywhere else it proves nothing here.
                                if (!filtered)
                                {
                                    state.Add(AuditProblemKind.Missing, verified.Sequence, $"The checkpoint at event {verified.Sequence} does not follow that event's line.");
                                }
                            }
                            else if (!state.LastHash.AsSpan().SequenceEqual(verified.HeadHash))
                            {
                                state.Add(AuditProblemKind.Modified, verified.Sequence, $"Event {verified.Sequence} differs from the signed checkpoint.");
                            }
                            else
                            {
                                state.Checkpoints++;
                            }
                        }

                        continue;
                    }

                    var sequence = root.GetProperty("seq").GetInt64();
                    var previous = Convert.FromHexString(root.GetProperty("prev").GetString()!);
                    var stated = Convert.FromHexString(root.GetProperty("hash").GetString()!);
                    var raw = Encoding.UTF8.GetBytes(root.GetProperty("event").GetRawText());
                    state.Events++;

                    switch (AuditChainLink.Check(chain, sequence, previous, raw, stated, state.LastSequence, state.LastHash, gapsAllowed: filtered))
                    {
                        case AuditLinkVerdict.Modified:
                            state.Add(AuditProblemKind.Modified, sequence, $"Event {sequence} does not hash to its stated value: it was modified.");
                            break;
                        case AuditLinkVerdict.Renumbered:
                            state.Add(AuditProblemKind.Reordered, sequence, $"Line for event {sequence} holds the event written as {AuditChainLink.BodySequence(raw)}.");
                            break;
                        case AuditLinkVerdict.Detached:
                            state.Add(AuditProblemKind.Modified, sequence, $"Event {sequence} does not follow event {state.LastSequence}.");
                            break;
                        case AuditLinkVerdict.Gap:
                            state.Add(AuditProblemKind.Missing, state.LastSequence!.Value + 1, $"The export jumps from event {state.LastSequence} to {sequence}.");
                            break;
                        case AuditLinkVerdict.Reordered:
                            state.Add(AuditProblemKind.Reordered, state.LastSequence!.Value + 1, $"The export jumps from event {state.LastSequence} to {sequence}.");
                            break;
                        case AuditLinkVerdict.NotFromGenesis:
                            state.Add(AuditProblemKind.Modified, sequence, "Event 1 does not follow the chain's genesis.");
                            break;
                        default:
                            break;
                    }

                    state.LastSequence = sequence;
                    state.LastHash = stated;
                }
                catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    Problem(chains, "(unknown)", AuditProblemKind.Modified, lineNumber, $"Line {lineNumber} is not an export line: {ex.Message}");
                }
            }
        }

        // A signed checkpoint beyond the last event line means the export was cut short.
        foreach (var state in chains.Values)
        {
            if (state.HighestCheckpoint > (state.LastSequence ?? 0))
            {
                state.Add(AuditProblemKind.Truncated, (state.LastSequence ?? 0) + 1, $"A signed checkpoint covers event {state.HighestCheckpoint}, but the export ends at {state.LastSequence ?? 0}.");
            }
        }

        return new AuditVerificationReport([.. chains.Values.OrderBy(c => c.Chain, StringComparer.Ordinal)
            .Select(c => new AuditChainReport(c.Chain, c.Events, c.Checkpoints, c.Problems))]);
    }

    private static void Problem(Dictionary<string, ChainState> chains, string chain, AuditProblemKind kind, long at, string detail)
    {
        var state = chains.TryGetValue(chain, out var s) ? s : chains[chain] = new ChainState(chain);
        state.Add(kind, at, detail);
    }

    private sealed class ChainState(string chain)
    {
        public string Chain { get; } = chain;

        public long Events { get; set; }

        public int Checkpoints { get; set; }

        public long? LastSequence { get; set; }

        public byte[] LastHash { get; set; } = [];

        public long HighestCheckpoint { get; set; }


        public List<AuditProblem> Problems { get; } = [];

        public void Add(AuditProblemKind kind, long sequence, string detail) => Problems.Add(new AuditProblem(kind, sequence, sequence, detail));
    }
}
