using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Storage.Audit;

namespace Safeguard.Benchmarks;

/// <summary>
/// Verifies a long trail (1,000,000 events in the quick run, 10,000,000 in the full run) and samples memory
/// while it runs: the verifier streams, so its footprint must not grow with the trail.
/// </summary>
internal static class AuditMemoryProbe
{
    public static (long Events, double PeakWorkingSetMb, double PeakManagedMb) Run(int events)
    {
        var directory = Directory.CreateTempSubdirectory("safeguard-bench-memory-").FullName;
        try
        {
            using var protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
            var keys = new AuditSigningKeys(new FileSigningKeyStore(Path.Combine(directory, "audit-keys")), protector, TimeProvider.System);
            long verified;
            double peakWorkingSet = 0, peakManaged = 0;
            using (var store = new SqliteAuditStore(Path.Combine(directory, "trail.db")))
            {
                var writer = new AuditWriter(store, keys, null, Options.Create(new AuditOptions { ChainId = "memory", QueueCapacity = 1 << 20 }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
                writer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
                for (var written = 0; written < events; written += AuditBenchmarks.AppendBatch)
                {
                    var batch = SyntheticAudit.Events(Math.Min(AuditBenchmarks.AppendBatch, events - written));
                    Task.WhenAll(batch.Select(e => writer.AppendAsync(e, CancellationToken.None))).GetAwaiter().GetResult();
                }

                writer.StopAsync().GetAwaiter().GetResult();
                GC.Collect();
                using var process = Process.GetCurrentProcess();
                var baselineManaged = GC.GetTotalMemory(forceFullCollection: true);
                keys.LoadAsync(createIfMissing: false, CancellationToken.None).GetAwaiter().GetResult();

                using var sampling = new CancellationTokenSource();
                var sampler = Task.Run(async () =>
                {
                    while (!sampling.IsCancellationRequested)
                    {
                        process.Refresh();
                        peakWorkingSet = Math.Max(peakWorkingSet, process.WorkingSet64 / 1048576.0);
                        peakManaged = Math.Max(peakManaged, (GC.GetTotalMemory(false) - baselineManaged) / 1048576.0);
                        await Task.Delay(50).ConfigureAwait(false);
                    }
                });
                var report = new AuditVerifier(store, keys.Trusted).VerifyAsync(null, CancellationToken.None).GetAwaiter().GetResult();
                sampling.Cancel();
                sampler.GetAwaiter().GetResult();
                verified = report.IsIntact ? report.Chains.Sum(c => c.Events) : -1;
            }

            return (verified, peakWorkingSet, peakManaged);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
