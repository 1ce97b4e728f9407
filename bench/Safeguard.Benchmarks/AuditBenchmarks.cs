using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Storage.Audit;

namespace Safeguard.Benchmarks;

/// <summary>
/// The audit trail on SQLite, durable (WAL, synchronous=FULL), beside baselines in the same run:
/// appending through the writer (4,096 concurrent producers, each awaiting its event's commit) against inserting
/// the same pre-sealed rows straight into the store; verifying a chain against a bare scan that hashes each row.
/// </summary>
public class AuditBenchmarks
{
    /// <summary>Events appended per invocation.</summary>
    public const int AppendBatch = 100_000;

    /// <summary>Events in the trail that is verified.</summary>
    public const int VerifyEvents = 1_000_000;

    /// <summary>Concurrent producers, as request handlers of a busy node.</summary>
    public const int Producers = 4096;

    private string _directory = null!;
    private AesGcmKeyProtector _protector = null!;
    private SqliteAuditStore _appendStore = null!;
    private SqliteAuditStore _rawStore = null!;
    private SqliteAuditStore _verifyStore = null!;
    private AuditWriter _writer = null!;
    private AuditSigningKeys _keys = null!;
    private AuditEvent[] _events = null!;
    private List<AuditRecord> _sealed = null!;
    private long _rawSequence;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("safeguard-bench-audit-").FullName;
        _protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        _keys = new AuditSigningKeys(new FileSigningKeyStore(Path.Combine(_directory, "audit-keys")), _protector, TimeProvider.System);
        _appendStore = new SqliteAuditStore(Path.Combine(_directory, "append.db"));
        _rawStore = new SqliteAuditStore(Path.Combine(_directory, "raw.db"));
        _writer = NewWriter(_appendStore, "bench-append");
        _writer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _events = SyntheticAudit.Events(AppendBatch);

        // The verified trail is written by the real writer, checkpoints and all.
        _verifyStore = new SqliteAuditStore(Path.Combine(_directory, "verify.db"));
        var writer = NewWriter(_verifyStore, "bench-verify");
        writer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        for (var written = 0; written < VerifyEvents; written += AppendBatch)
        {
            AppendAll(writer, SyntheticAudit.Events(AppendBatch));
        }

        writer.StopAsync().GetAwaiter().GetResult();
        if (VerifyWithWriter() <= VerifyEvents)
        {
            throw new InvalidOperationException("The benchmark trail does not verify; the figure would measure the failure path.");
        }
    }

    [IterationSetup(Targets = [nameof(Append)])]
    public void NewEvents() => _events = SyntheticAudit.Events(AppendBatch);

    [IterationSetup(Targets = [nameof(RawInsert)])]
    public void SealRows()
    {
        // The baseline inserts rows that are already sealed: canonical bytes and chain hash made outside the timing.
        _sealed = new List<AuditRecord>(AppendBatch);
        var previous = new byte[32];
        foreach (var e in SyntheticAudit.Events(AppendBatch))
        {
            var body = AuditCanonicalJson.ToBytes(e with { Chain = "bench-raw", Sequence = ++_rawSequence });
            var hash = new byte[32];
            AuditHash.Next(previous, body, hash);
            _sealed.Add(new AuditRecord { Chain = "bench-raw", Sequence = _rawSequence, Time = e.Time, Body = body, Hash = hash });
            previous = hash;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.StopAsync().GetAwaiter().GetResult();
        _appendStore.Dispose();
        _rawStore.Dispose();
        _verifyStore.Dispose();
        _protector.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Durable append through the writer: queue, seal, group commit, every producer awaiting.</summary>
    [Benchmark(OperationsPerInvoke = AppendBatch)]
    public long Append() => AppendAll(_writer, _events);

    /// <summary>Baseline: the same number of pre-sealed rows inserted straight into the store, 4,096 per transaction.</summary>
    [Benchmark(OperationsPerInvoke = AppendBatch)]
    public int RawInsert()
    {
        for (var i = 0; i < _sealed.Count; i += 4096)
        {
            _rawStore.AppendAsync(_sealed.GetRange(i, Math.Min(4096, _sealed.Count - i)), [], CancellationToken.None).GetAwaiter().GetResult();
        }

        return _sealed.Count;
    }

    /// <summary>The verifier over a 1,000,000-event chain: every link, every checkpoint signature.</summary>
    [Benchmark(OperationsPerInvoke = VerifyEvents)]
    public long Verify() => VerifyWithWriter();

    /// <summary>Baseline: scan the same rows and SHA-256 each one, nothing else.</summary>
    [Benchmark(OperationsPerInvoke = VerifyEvents)]
    public long RawScanHash()
    {
        long rows = 0;
        var buffer = new byte[32];
        _verifyStore.ScanChainAsync("bench-verify", (sequence, body, hash) =>
        {
            SHA256.HashData(body, buffer);
            rows++;
        }, CancellationToken.None).GetAwaiter().GetResult();
        return rows;
    }

    private long VerifyWithWriter()
    {
        _keys.LoadAsync(createIfMissing: false, CancellationToken.None).GetAwaiter().GetResult();
        var report = new AuditVerifier(_verifyStore, _keys.Trusted).VerifyAsync(null, CancellationToken.None).GetAwaiter().GetResult();
        return report.IsIntact ? report.Chains.Sum(c => c.Events) : -1;
    }

    private AuditWriter NewWriter(SqliteAuditStore store, string chain) => new(
        store, _keys, null, Options.Create(new AuditOptions { ChainId = chain, QueueCapacity = 1 << 20 }), TimeProvider.System, NullLogger<AuditWriter>.Instance);

    private static long AppendAll(AuditWriter writer, AuditEvent[] events)
    {
        var next = -1;
        long last = 0;
        Task.WhenAll(Enumerable.Range(0, Producers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < events.Length)
            {
                var sequence = await writer.AppendAsync(events[i], CancellationToken.None).ConfigureAwait(false);
                InterlockedMax(ref last, sequence);
            }
        }))).GetAwaiter().GetResult();
        return last;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while ((current = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
