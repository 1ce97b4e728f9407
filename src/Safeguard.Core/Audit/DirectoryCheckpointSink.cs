using System.Text;
using System.Text.Json;

namespace Safeguard.Audit;

/// <summary>
/// Copies every checkpoint to a directory outside the database: one JSON line per checkpoint in
/// <c>{chain}.checkpoints.jsonl</c>, appended and flushed to disk. Point it at storage the database's
/// administrators cannot rewrite (another volume, a WORM mount, a synced bucket).
/// </summary>
public sealed class DirectoryCheckpointSink : IAuditCheckpointSink, IDisposable
{
    private readonly string _directory;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the sink, creating the directory if needed.</summary>
    /// <param name="directory">The directory.</param>
    public DirectoryCheckpointSink(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
    }

    /// <inheritdoc />
    public async Task WriteAsync(AuditCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var line = JsonSerializer.Serialize(new ExportedCheckpoint(checkpoint.Chain, checkpoint.Sequence, Convert.ToHexStringLower(checkpoint.HeadHash), checkpoint.Jws)) + "\n";
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var stream = new FileStream(PathFor(checkpoint.Chain), FileMode.Append, FileAccess.Write, FileShare.Read);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads back every exported checkpoint of every chain (their signatures are checked by the verifier, not here).</summary>
    /// <param name="directory">The export directory.</param>
    /// <returns>The checkpoints; a torn last line (a crash mid-write) is skipped.</returns>
    public static IReadOnlyList<AuditCheckpoint> ReadAll(string directory)
    {
        var checkpoints = new List<AuditCheckpoint>();
        if (!Directory.Exists(directory))
        {
            return checkpoints;
        }

        foreach (var path in Directory.EnumerateFiles(directory, "*.checkpoints.jsonl"))
        {
            foreach (var line in File.ReadLines(path))
            {
                ExportedCheckpoint? exported;
                try
                {
                    // Lines written before the names were lower-case (Chain, Seq, ...) read the same.
                    exported = JsonSerializer.Deserialize<ExportedCheckpoint>(line, ReadOptions);
                }
                catch (JsonException)
                {
                    continue;
                }

                if (exported?.Chain is null || exported.Jws is null || exported.Head is null)
                {
                    continue;
                }

                checkpoints.Add(new AuditCheckpoint
                {
                    Chain = exported.Chain,
                    Sequence = exported.Seq,
                    HeadHash = Convert.FromHexString(exported.Head),
                    Time = default,
                    Jws = exported.Jws,
                });
            }
        }

        return checkpoints;
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private string PathFor(string chain) => Path.Combine(_directory, chain + ".checkpoints.jsonl");

    private static readonly JsonSerializerOptions ReadOptions = new() { PropertyNameCaseInsensitive = true };

    /// <summary>One line: <c>{"chain","seq","head","jws"}</c>, as the webhook sends it.</summary>
    private sealed record ExportedCheckpoint(
        [property: System.Text.Json.Serialization.JsonPropertyName("chain")] string Chain,
        [property: System.Text.Json.Serialization.JsonPropertyName("seq")] long Seq,
        [property: System.Text.Json.Serialization.JsonPropertyName("head")] string Head,
        [property: System.Text.Json.Serialization.JsonPropertyName("jws")] string Jws);
}
