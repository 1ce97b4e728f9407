using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Safeguard.Audit;
using Safeguard.Hosting;

namespace Safeguard.Benchmarks;

/// <summary>
/// Synthetic audit events (no real data) for benchmarks, load tests and crash tests, and a generator that appends them
/// to a data folder's trail on a chain of their own (never a server's live chain), each awaited until durable.
/// </summary>
public static class SyntheticAudit
{
    /// <summary>The chain generated events go to unless another is named.</summary>
    public const string DefaultChain = "synthetic";

    /// <summary>A PHI-access event of about 500 canonical bytes; every identifier says it is synthetic.</summary>
    /// <param name="i">Its number (varies the ids).</param>
    /// <param name="now">Its time.</param>
    /// <returns>The event.</returns>
    public static AuditEvent Event(int i, DateTimeOffset now) => new()
    {
        EventId = AuditEventIds.New(now),
        Time = now,
        Type = AuditEventType.PhiAccessAllowed,
        Outcome = AuditOutcome.Success,
        Subject = $"u-{i % 977:D6}-synthetic",
        ClientId = "synthetic-ehr-portal",
        SessionId = $"sid-{i % 4099:D8}",
        TokenId = $"jti-{i:D12}",
        Acr = "urn:safeguard:aal2",
        Amr = ["pwd", "otp"],
        SourceIp = "10.20.30.40",
        NodeId = "synthetic",
        Action = AuditAction.Read,
        ResourceType = "Observation",
        ResourceId = $"obs-{i:D12}",
        PatientId = $"pat-{i % 1499:D8}",
        PurposeOfUse = "TREAT",
        HttpStatus = 200,
        CorrelationId = $"corr-{i:D12}",
    };

    /// <summary><paramref name="count"/> events with fresh ids.</summary>
    /// <param name="count">How many.</param>
    /// <returns>The events.</returns>
    public static AuditEvent[] Events(int count)
    {
        var now = TimeProvider.System.GetUtcNow();
        var events = new AuditEvent[count];
        for (var i = 0; i < count; i++)
        {
            events[i] = Event(i, now);
        }

        return events;
    }

    /// <summary>
    /// Appends <paramref name="count"/> events to the trail of a data folder, composed as the server composes it
    /// (<c>AddSafeguardCore</c>, <c>AddSafeguardStorage</c>), from <paramref name="producers"/> concurrent producers each
    /// awaiting durability. With <paramref name="acks"/>, writes <c>ack SEQ EVENT_ID</c> as each event becomes durable.
    /// </summary>
    /// <returns>How many events were written.</returns>
    public static async Task<int> GenerateAsync(string dataPath, int count, int producers, string? chain, TextWriter? acks, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(producers, 1);
        var configuration = SafeguardConfiguration.Build(
        [
            $"--Safeguard:DataPath={dataPath}",
            $"--Safeguard:Audit:ChainId={chain ?? DefaultChain}",
            $"--Safeguard:Audit:QueueCapacity={Math.Max(65_536, producers * 2)}",
        ]);
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSafeguardCore(configuration).AddSafeguardStorage(configuration);
        await using var provider = services.BuildServiceProvider();
        SafeguardOptionsValidation.ValidateAll(provider);
        var writer = provider.GetRequiredService<AuditWriter>();
        await writer.StartAsync(cancellationToken).ConfigureAwait(false);

        var gate = new Lock();
        var next = 0;
        var tasks = Enumerable.Range(0, Math.Min(producers, count)).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i > count)
                {
                    return;
                }

                var auditEvent = Event(i, TimeProvider.System.GetUtcNow());
                var sequence = await writer.AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
                if (acks is not null)
                {
                    lock (gate)
                    {
                        acks.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ack {sequence} {auditEvent.EventId}"));
                    }
                }
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        await writer.StopAsync().ConfigureAwait(false);
        return count;
    }

    /// <summary>The <c>generate</c> mode of the benchmark program: <c>generate DATA COUNT [CONCURRENCY [CHAIN [--ack]]]</c>.</summary>
    internal static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 3)
        {
            await Console.Error.WriteLineAsync("usage: Safeguard.Benchmarks generate DATA COUNT [CONCURRENCY [CHAIN [--ack]]]").ConfigureAwait(false);
            return 2;
        }

        var count = int.Parse(args[2], CultureInfo.InvariantCulture);
        var producers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
        var chain = args.Length > 4 ? args[4] : null;
        var acks = args.Contains("--ack") ? Console.Out : null;
        var watch = Stopwatch.StartNew();
        var written = await GenerateAsync(args[1], count, producers, chain, acks, CancellationToken.None).ConfigureAwait(false);
        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{written} events durable on chain {chain ?? DefaultChain} in {watch.Elapsed.TotalSeconds:0.00} s ({written / watch.Elapsed.TotalSeconds:0} events/s).")).ConfigureAwait(false);
        return 0;
    }
}
