using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Audit;

namespace Safeguard.Storage.Tests.Audit;

public sealed class AuditWriterTests
{
    [Fact]
    public async Task Append_CompletesWithTheCommittedSequenceNumber()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);

        var first = await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        var second = await trail.Writer.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None);

        Assert.Equal(1, first);
        Assert.Equal(2, second);
        Assert.Equal(2, (await trail.Store.GetHeadAsync(AuditTrailFixture.Chain, CancellationToken.None))!.Sequence);
    }

    [Fact]
    public async Task Stop_WritesAFinalCheckpointOverTheTail()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        await trail.AppendAsync(25);

        await trail.Writer.StopAsync();

        var checkpoints = await trail.Store.GetCheckpointsAsync(AuditTrailFixture.Chain, CancellationToken.None);
        Assert.Equal(25, Assert.Single(checkpoints).Sequence);
        Assert.Single(DirectoryCheckpointLines(trail));
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task Restart_ContinuesTheSameChain()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(15);
        await trail.Writer.StopAsync();
        var head = (await trail.Store.GetHeadAsync(AuditTrailFixture.Chain, CancellationToken.None))!.Sequence;

        await using var again = trail.NewWriter();
        await again.StartAsync(CancellationToken.None);
        var next = await again.AppendAsync(AuditTrailFixture.Event(99), CancellationToken.None);
        await again.StopAsync();

        Assert.Equal(head + 1, next);
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task ASecondWriterOnTheChain_RefusesToStart_NamingTheSetting_UntilTheFirstStops()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        await trail.AppendAsync(3);

        // A second store on the same file stands for a second process on the same data folder.
        using var otherProcess = new Safeguard.Storage.Audit.SqliteAuditStore(trail.DatabasePath);
        await using var second = new AuditWriter(otherProcess, trail.Keys, trail.Sink, Options.Create(trail.Options), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        var refused = await Assert.ThrowsAsync<AuditChainInUseException>(() => second.StartAsync(CancellationToken.None));
        Assert.Contains("Safeguard:Audit:ChainId", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"'{AuditTrailFixture.Chain}'", refused.Message, StringComparison.Ordinal);
        Assert.False(second.IsRunning);
        Assert.Equal(4, await trail.Writer.AppendAsync(AuditTrailFixture.Event(4), CancellationToken.None));

        // Another chain in the same file is no contention.
        await using (var other = await otherProcess.AcquireChainAsync("node-z", CancellationToken.None))
        {
            Assert.NotNull(other);
        }

        await trail.Writer.StopAsync();
        await second.StartAsync(CancellationToken.None);
        var next = await second.AppendAsync(AuditTrailFixture.Event(5), CancellationToken.None);
        await second.StopAsync();

        Assert.Equal(6, next); // 1-4, the stop checkpoint's marker at 5, then this one
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Fact]
    public async Task AWriterThatStoppedOnAnInternalError_HoldsItsChainUntilStopped()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1);
        trail.Keys.Dispose(); // a checkpoint can no longer be signed: the sealing stage stops the writer

        var error = await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None));
        Assert.Equal(SafeguardErrorCodes.AuditWriterStopped, error.ErrorCode);
        Assert.False(trail.Writer.IsRunning);
        await Assert.ThrowsAsync<AuditChainInUseException>(() => trail.Store.AcquireChainAsync(AuditTrailFixture.Chain, CancellationToken.None));

        await trail.Writer.StopAsync();

        await using var lease = await trail.Store.AcquireChainAsync(AuditTrailFixture.Chain, CancellationToken.None);
        Assert.NotNull(lease);
    }

    [Fact]
    public async Task LowPriorityEvents_LeaveTheLastQuarterOfTheQueueToEveryoneElse()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = new SwitchableStore(trail.Store) { Stall = stall };
        await using var writer = new AuditWriter(store, trail.Keys, trail.Sink, Options.Create(trail.Options with { ChainId = "node-q", QueueCapacity = 8 }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);

        // One batch stalls in the commit stage, the next waits sealed behind it; from then on events stay queued.
        var first = writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var second = writer.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None);
        for (var wait = 0; writer.QueuedEvents > 0 && wait < 3000; wait++)
        {
            await Task.Delay(10);
        }

        var queued = Enumerable.Range(3, 6).Select(i => writer.AppendAsync(AuditTrailFixture.Event(i), AuditPriority.Low, CancellationToken.None)).ToList();
        Assert.Equal(6, writer.QueuedEvents);

        var refused = await Assert.ThrowsAsync<AuditUnavailableException>(() => writer.AppendAsync(AuditTrailFixture.Event(9), AuditPriority.Low, CancellationToken.None));
        Assert.False(writer.TryAppend(AuditTrailFixture.Event(11), AuditPriority.Low)); // queued without waiting: refused alike
        var issuance = writer.AppendAsync(AuditTrailFixture.Event(10), AuditPriority.Normal, CancellationToken.None);

        Assert.Equal(SafeguardErrorCodes.AuditQueueFull, refused.ErrorCode);
        Assert.Equal(7, writer.QueuedEvents);
        stall.SetResult();
        await Task.WhenAll([first, second, .. queued, issuance]);
        Assert.True(await issuance > 0);
    }

    [Fact]
    public async Task Append_FailsClosedWhenTheStoreIsDown_AndLosesNothingAcknowledged()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var store = new SwitchableStore(trail.Store);
        await using var writer = new AuditWriter(store, trail.Keys, trail.Sink, Options.Create(trail.Options with { ChainId = "node-b" }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        var acknowledged = await writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);

        store.Down = true;
        var error = await Assert.ThrowsAsync<AuditUnavailableException>(() => writer.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None));
        Assert.Equal(SafeguardErrorCodes.AuditStoreUnavailable, error.ErrorCode);
        Assert.False(writer.IsHealthy);

        store.Down = false;
        var after = await writer.AppendAsync(AuditTrailFixture.Event(3), CancellationToken.None);
        await writer.StopAsync();

        Assert.Equal(acknowledged + 1, after);
        Assert.True(writer.CommittedSequence >= after);
        var report = await trail.VerifyAsync();
        Assert.True(report.IsIntact, string.Join("; ", report.Chains.SelectMany(c => c.Problems).Select(p => p.Detail)));
    }

    [Fact]
    public async Task TryAppend_KeepsUnawaitedEventsAcrossAnOutageAndWritesThemAfter()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var store = new SwitchableStore(trail.Store) { Down = true };
        await using var writer = new AuditWriter(store, trail.Keys, trail.Sink, Options.Create(trail.Options with { ChainId = "node-c" }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);

        Assert.True(writer.TryAppend(AuditTrailFixture.Event(1)));
        await store.Refused.Task;
        store.Down = false;
        var sequence = await writer.AppendAsync(AuditTrailFixture.Event(2), CancellationToken.None);

        Assert.Equal(2, sequence);
    }

    [Fact]
    public async Task Append_FailsAtOnceWhenTheQueueIsFull()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        var store = new SwitchableStore(trail.Store) { Stall = new TaskCompletionSource() };
        await using var writer = new AuditWriter(store, trail.Keys, trail.Sink, Options.Create(trail.Options with { ChainId = "node-d", QueueCapacity = 2 }), TimeProvider.System, NullLogger<AuditWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);

        // The commit stalls (a slow disk): the sealed batches in flight and the queue fill, then events are refused.
        var accepted = new List<Task<long>>();
        AuditUnavailableException? refused = null;
        try
        {
            for (var i = 1; i <= 100 && refused is null; i++)
            {
                // A refusal is immediate: the returned task has already failed.
                var append = writer.AppendAsync(AuditTrailFixture.Event(i), CancellationToken.None);
                if (append.IsFaulted)
                {
                    refused = append.Exception!.InnerException as AuditUnavailableException;
                    break;
                }

                accepted.Add(append);
                await store.Entered.Task;
                await Task.Delay(20);
            }

            Assert.NotNull(refused);
            Assert.Equal(SafeguardErrorCodes.AuditQueueFull, refused.ErrorCode);
            Assert.False(writer.TryAppend(AuditTrailFixture.Event(500)));
            Assert.InRange(accepted.Count, 3, 10);
        }
        finally
        {
            store.Stall.TrySetResult();
        }

        // Nothing accepted is lost once the disk catches up.
        var sequences = await Task.WhenAll(accepted);
        Assert.Equal(Enumerable.Range(1, accepted.Count).Select(i => (long)i), sequences.Order());
    }

    [Fact]
    public async Task Append_RefusesAnIncompleteEventAtTheDoorAndKeepsRunning()
    {
        await using var trail = await AuditTrailFixture.StartAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => trail.Writer.AppendAsync(AuditTrailFixture.Event(1) with { Type = (AuditEventType)999 }, CancellationToken.None));
        Assert.Throws<ArgumentException>(() => trail.Writer.TryAppend(AuditTrailFixture.Event(2) with { Amr = null! }));
        var sequence = await trail.Writer.AppendAsync(AuditTrailFixture.Event(3), CancellationToken.None);

        Assert.Equal(1, sequence);
        Assert.True(trail.Writer.IsHealthy);
    }

    [Fact]
    public async Task Append_AfterStop_IsRefused()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.Writer.StopAsync();

        var error = await Assert.ThrowsAsync<AuditUnavailableException>(() => trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None));

        Assert.Equal(SafeguardErrorCodes.AuditWriterStopped, error.ErrorCode);
    }

    [Fact]
    public void CanonicalForm_IsSortedCompactAndEscapedPerRfc8785()
    {
        var e = AuditTrailFixture.Event(3) with
        {
            Chain = "node-a",
            Sequence = 42,
            UserAgent = "Mozilla/5.0 \"quoted\"\n\u0001 é ✓",
            Changes = [new AuditChange("scope", "a", "b")],
            Emergency = true,
        };

        var text = System.Text.Encoding.UTF8.GetString(AuditCanonicalJson.ToBytes(e));

        Assert.StartsWith("{\"action\":\"read\",\"chain\":\"node-a\",\"changes\":[{\"field\":\"scope\",\"new\":\"b\",\"old\":\"a\"}],\"client_id\":\"ehr-portal\"", text, StringComparison.Ordinal);
        Assert.Contains(",\"emergency\":true,", text, StringComparison.Ordinal);
        Assert.Contains(",\"seq\":42,", text, StringComparison.Ordinal);
        Assert.Contains("\"user_agent\":\"Mozilla/5.0 \\\"quoted\\\"\\n\\u0001 é ✓\"}", text, StringComparison.Ordinal);
        Assert.DoesNotContain(" :", text, StringComparison.Ordinal);
        using var parsed = System.Text.Json.JsonDocument.Parse(text);
        var names = parsed.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task UnawaitedEvents_AreHeldForOneCommit_UntilTheDelayAfterThePreviousOne()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var writer = HoldingWriter(trail, time, TimeSpan.FromMilliseconds(100));
        await writer.StartAsync(CancellationToken.None);
        Assert.Equal(1, await writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None));

        for (var i = 2; i <= 6; i++)
        {
            Assert.True(writer.TryAppend(AuditTrailFixture.Event(i)));
        }

        // The clock stands still: nothing is committed however long this waits.
        await Task.Delay(300);
        Assert.Equal(1, await HeadAsync(trail));

        time.Advance(TimeSpan.FromMilliseconds(100));
        await WaitForHeadAsync(trail, 6);
        Assert.Equal(0, writer.QueuedEvents);
    }

    [Fact]
    public async Task AnAwaitedEvent_IsNeverHeld_AndTakesTheHeldOnesWithIt()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var writer = HoldingWriter(trail, time, TimeSpan.FromSeconds(1));
        await writer.StartAsync(CancellationToken.None);
        await writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        Assert.True(writer.TryAppend(AuditTrailFixture.Event(2)));
        Assert.True(writer.TryAppend(AuditTrailFixture.Event(3)));
        await Task.Delay(200);
        Assert.Equal(1, await HeadAsync(trail));

        // With the clock still stopped, an awaited event is committed at once, the held ones before it.
        var sequence = await writer.AppendAsync(AuditTrailFixture.Event(4), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4, sequence);
        Assert.Equal(4, await HeadAsync(trail));
    }

    [Fact]
    public async Task Stop_CommitsHeldEvents_WithoutWaitingOutTheDelay()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var writer = HoldingWriter(trail, time, TimeSpan.FromSeconds(1));
        await writer.StartAsync(CancellationToken.None);
        await writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        Assert.True(writer.TryAppend(AuditTrailFixture.Event(2)));
        Assert.True(writer.TryAppend(AuditTrailFixture.Event(3)));

        await writer.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(4, await HeadAsync(trail)); // 1-3 and the final checkpoint's marker
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public void UnawaitedCommitDelay_OutsideZeroToOneSecond_IsRefused(int milliseconds)
    {
        var result = new AuditOptionsValidator().Validate(null, new AuditOptions { ChainId = "node-a", UnawaitedCommitDelay = TimeSpan.FromMilliseconds(milliseconds) });

        Assert.True(result.Failed);
        Assert.Contains("Safeguard:Audit:UnawaitedCommitDelay", result.FailureMessage, StringComparison.Ordinal);
    }

    private static AuditWriter HoldingWriter(AuditTrailFixture trail, TimeProvider time, TimeSpan delay) =>
        new(trail.Store, trail.Keys, trail.Sink, Options.Create(new AuditOptions { ChainId = "node-h", CheckpointEveryEvents = 1000, UnawaitedCommitDelay = delay }),
            time, NullLogger<AuditWriter>.Instance);

    private static async Task<long> HeadAsync(AuditTrailFixture trail) =>
        (await trail.Store.GetHeadAsync("node-h", CancellationToken.None))?.Sequence ?? 0;

    private static async Task WaitForHeadAsync(AuditTrailFixture trail, long sequence)
    {
        for (var i = 0; i < 300 && await HeadAsync(trail) < sequence; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(sequence, await HeadAsync(trail));
    }

    private static string[] DirectoryCheckpointLines(AuditTrailFixture trail) =>
        File.ReadAllLines(Path.Combine(trail.CheckpointDirectory, AuditTrailFixture.Chain + ".checkpoints.jsonl"));

    /// <summary>A real store that can be switched off (a database that is down) or made to stall (a slow disk).</summary>
    private sealed class SwitchableStore(IAuditStore inner) : IAuditStore
    {
        public bool Down { get; set; }

        public TaskCompletionSource? Stall { get; init; }

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when a write was refused because the store was down.</summary>
        public TaskCompletionSource Refused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<IAsyncDisposable> AcquireChainAsync(string chain, CancellationToken cancellationToken) => inner.AcquireChainAsync(chain, cancellationToken);

        public Task<AuditChainHead?> GetHeadAsync(string chain, CancellationToken cancellationToken) => inner.GetHeadAsync(chain, cancellationToken);

        public async Task AppendAsync(IReadOnlyList<AuditRecord> records, IReadOnlyList<AuditCheckpoint> checkpoints, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            if (Stall is not null)
            {
                await Stall.Task;
            }

            if (Down)
            {
                Refused.TrySetResult();
                throw new IOException("disk I/O error (simulated outage)");
            }

            await inner.AppendAsync(records, checkpoints, cancellationToken);
        }

        public Task<IReadOnlyList<string>> GetChainsAsync(CancellationToken cancellationToken) => inner.GetChainsAsync(cancellationToken);

        public Task<long> CountAsync(string chain, CancellationToken cancellationToken) => inner.CountAsync(chain, cancellationToken);

        public Task ScanChainAsync(string chain, AuditRowVisitor visitor, CancellationToken cancellationToken) => inner.ScanChainAsync(chain, visitor, cancellationToken);

        public IAsyncEnumerable<AuditRecord> ReadChainAsync(string chain, long fromSequence, CancellationToken cancellationToken) => inner.ReadChainAsync(chain, fromSequence, cancellationToken);

        public Task<IReadOnlyList<AuditCheckpoint>> GetCheckpointsAsync(string chain, CancellationToken cancellationToken) => inner.GetCheckpointsAsync(chain, cancellationToken);

        /// <summary>The inner store belongs to the fixture.</summary>
        public void Dispose()
        {
        }
    }
}
