using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Audit;

/// <summary>
/// Archives older records to files that verify on their own: per chain, the prefix of events written before a
/// date as a JSON Lines export (events and checkpoints), and a manifest naming each file's SHA-256 and sequence
/// range, signed with the audit key (<c>typ: safeguard-audit-archive+jwt</c>). Nothing is deleted: the audit
/// tables refuse it, and there is no delete API.
/// </summary>
public static class AuditArchive
{
    /// <summary>The manifest's JWS <c>typ</c>.</summary>
    public const string ManifestType = "safeguard-audit-archive+jwt";

    /// <summary>The manifest's file name inside an archive directory.</summary>
    public const string ManifestFile = "manifest.jws";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Writes an archive of every event written before <paramref name="until"/>.</summary>
    /// <param name="store">The trail.</param>
    /// <param name="key">The audit key (with its private key).</param>
    /// <param name="until">Events from before this time are archived (each chain's prefix up to the last such event).</param>
    /// <param name="directory">An empty or new directory.</param>
    /// <param name="now">The time of the archive.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>How many events were archived.</returns>
    public static async Task<long> CreateAsync(IAuditStore store, SigningKey key, DateTimeOffset until, string directory, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        Directory.CreateDirectory(directory);
        var files = new List<Dictionary<string, object>>();
        long total = 0;
        foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
        {
            // The archived part is the prefix of the chain up to the last event before the date: contiguous from 1,
            // so it verifies from the genesis.
            long last = 0;
            await foreach (var record in store.ReadChainAsync(chain, 1, cancellationToken).ConfigureAwait(false))
            {
                if (record.Time < until)
                {
                    last = record.Sequence;
                }
            }

            if (last == 0)
            {
                continue;
            }

            var name = chain + ".jsonl";
            var path = Path.Combine(directory, name);
            var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
            long events;
            await using (writer.ConfigureAwait(false))
            {
                events = await AuditExport.ExportAsync(new PrefixStore(store, chain, last), writer, AuditExportFormat.Jsonl, null, cancellationToken).ConfigureAwait(false);
            }

            var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false)));
            files.Add(new Dictionary<string, object> { ["chain"] = chain, ["file"] = name, ["sha256"] = sha, ["first_seq"] = 1L, ["last_seq"] = last, ["events"] = events });
            total += events;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            TokenType = ManifestType,
            IssuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()).UtcDateTime,
            SigningCredentials = key.SigningCredentials ?? throw new InvalidOperationException("The audit key's private key is not loaded."),
            Claims = new Dictionary<string, object>
            {
                ["until"] = AuditCanonicalJson.FormatTime(until),
                ["files"] = files,
            },
        };
        await File.WriteAllTextAsync(Path.Combine(directory, ManifestFile), Handler.CreateToken(descriptor), cancellationToken).ConfigureAwait(false);
        return total;
    }

    /// <summary>Verifies an archive directory: the manifest's signature, every file's hash, and every file's chain.</summary>
    /// <param name="directory">The archive directory.</param>
    /// <param name="trustedKeys">The audit public keys.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The problems found (empty when the archive holds), and the per-chain reports.</returns>
    public static async Task<(IReadOnlyList<string> Problems, AuditVerificationReport Report)> VerifyAsync(string directory, IReadOnlyList<SigningKey> trustedKeys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trustedKeys);
        var problems = new List<string>();
        var reports = new List<AuditChainReport>();
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            return (["The archive has no manifest."], new AuditVerificationReport([]));
        }

        var manifestText = await File.ReadAllTextAsync(manifestPath, cancellationToken).ConfigureAwait(false);
        if (!AuditCheckpoints.TryVerify(manifestText.Trim(), JwsPolicies.AuditArchiveManifest, trustedKeys, out var manifest))
        {
            return (["The manifest is not signed by a trusted audit key."], new AuditVerificationReport([]));
        }

        // The signed payload itself, read only from a valid signature.
        using var verified = manifest;
        if (!verified.Payload.Root.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Array)
        {
            return (["The manifest lists no files."], new AuditVerificationReport([]));
        }

        foreach (var entry in files.EnumerateArray())
        {
            var name = entry.GetProperty("file").GetString() ?? string.Empty;
            if (name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal) || name.StartsWith('.'))
            {
                problems.Add($"The manifest names an unsafe file '{name}'.");
                continue;
            }

            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                problems.Add($"{name} is missing.");
                continue;
            }

            var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != entry.GetProperty("sha256").GetString())
            {
                problems.Add($"{name} does not have the SHA-256 the manifest signs: it was altered.");
            }

            var report = await AuditJsonlVerifier.VerifyAsync(new StringReader(Encoding.UTF8.GetString(bytes)), trustedKeys, cancellationToken).ConfigureAwait(false);
            reports.AddRange(report.Chains);
            var lastSequence = entry.GetProperty("last_seq").GetInt64();
            var events = report.Chains.Sum(c => c.Events);
            if (events != entry.GetProperty("events").GetInt64())
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name} holds {events} events; the manifest says {entry.GetProperty("events").GetInt64()} (to event {lastSequence})."));
            }

            problems.AddRange(report.Chains.SelectMany(c => c.Problems).Select(p => $"{name}: {p.Kind} at {p.Sequence}: {p.Detail}"));
        }

        return (problems, new AuditVerificationReport(reports));
    }

    /// <summary>One chain of a store, cut at a sequence number.</summary>
    private sealed class PrefixStore(IAuditStore inner, string chain, long last) : IAuditStore
    {
        /// <summary>The inner store belongs to the caller.</summary>
        public void Dispose()
        {
        }

        public Task<IAsyncDisposable> AcquireChainAsync(string c, CancellationToken cancellationToken) =>
            throw new NotSupportedException("An archive view is read-only.");

        public Task<AuditChainHead?> GetHeadAsync(string c, CancellationToken cancellationToken) => inner.GetHeadAsync(c, cancellationToken);

        public Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken) =>
            throw new NotSupportedException("An archive view is read-only.");

        public Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([chain]);

        public Task<long> CountAsync(string c, CancellationToken cancellationToken) => Task.FromResult(last);

        public Task ScanChainAsync(string c, AuditRowVisitor visitor, CancellationToken cancellationToken) =>
            throw new NotSupportedException("An archive view is read through ReadChainAsync.");

        public async IAsyncEnumerable<AuditRecord> ReadChainAsync(string c, long fromSequence, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var record in inner.ReadChainAsync(c, fromSequence, cancellationToken).ConfigureAwait(false))
            {
                if (record.Sequence > last)
                {
                    yield break;
                }

                yield return record;
            }
        }

        public async Task<IReadOnlyList<AuditCheckpoint>> GetCheckpointsAsync(string c, CancellationToken cancellationToken) =>
            [.. (await inner.GetCheckpointsAsync(c, cancellationToken).ConfigureAwait(false)).Where(cp => cp.Sequence <= last)];
    }
}
