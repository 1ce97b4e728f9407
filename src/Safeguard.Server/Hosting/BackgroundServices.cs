using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Authorization;
using Safeguard.Dpop;
using Safeguard.Keys;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.Configuration;
using Safeguard.Server.Revocation;
using Safeguard.State;
using Safeguard.Tokens;

namespace Safeguard.Server.Hosting;

/// <summary>
/// Work a node repeats on a timer of the injected <see cref="TimeProvider"/>. A failed round is logged and retried at
/// the next tick; <see cref="NextRoundAsync"/> lets a test advance a fake clock and wait for the round it caused
/// instead of polling.
/// </summary>
internal abstract class PeriodicService(TimeProvider time) : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time = time;
    private TaskCompletionSource _round = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How often a round runs.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>Completes when the next round (or the one running now) has finished, successfully or not.</summary>
    /// <returns>The task.</returns>
    public Task NextRoundAsync()
    {
        lock (_gate)
        {
            return _round.Task;
        }
    }

    /// <summary>One round.</summary>
    protected abstract Task RunRoundAsync(CancellationToken cancellationToken);

    /// <summary>Logs a failed round.</summary>
    protected abstract void LogFailure(Exception exception);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RunRoundAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailure(ex);
            }

            TaskCompletionSource finished;
            lock (_gate)
            {
                finished = _round;
                _round = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            finished.SetResult();
        }
    }
}

/// <summary>
/// Key-ring maintenance: every <c>KeyMaintenanceInterval</c> the node holding the cluster lock (PostgreSQL advisory
/// lock; always this node on SQLite) runs rotation; the others reload what it wrote. Failures are logged and retried;
/// the ring keeps serving its current keys meanwhile.
/// </summary>
internal sealed partial class KeyMaintenanceService(
    SigningKeyRing ring, ILeaderLock leader, IOptions<ServerOptions> options, TimeProvider time, ILogger<KeyMaintenanceService> logger)
    : PeriodicService(time)
{
    protected override TimeSpan Interval => options.Value.KeyMaintenanceInterval;

    /// <summary>One round: rotate under the lock, or reload.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var handle = await leader.TryAcquireAsync(LeaderLocks.KeyRotation, cancellationToken).ConfigureAwait(false);
        if (handle is null)
        {
            await ring.ReloadAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await using (handle.ConfigureAwait(false))
        {
            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override Task RunRoundAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    protected override void LogFailure(Exception exception) => LogFailed(logger, exception);

    [LoggerMessage(EventId = LogEvents.KeyMaintenanceFailed, Level = LogLevel.Error, Message = "Key-ring maintenance failed; the current keys stay in use and it is retried.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Pulls changed clients and new revocations, prunes the replay cache, expired revocations and codes once a minute, and
/// expired refresh tokens once an hour (found by a scan: they have no index on their end).
/// </summary>
internal sealed partial class SyncService(
    ClientRegistry clients, RevocationService revocations, IReplayCache replay, IRevocationStore revocationStore, RefusalAggregator refusals,
    IAuthorizationStore authorizations, IRefreshTokenStore refreshTokens, IOptions<ServerOptions> options, TimeProvider clock, ILogger<SyncService> logger) : PeriodicService(clock)
{
    private static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan RefreshPurgeEvery = TimeSpan.FromHours(1);
    private readonly TimeProvider _clock = clock;
    private DateTimeOffset _nextPrune = clock.GetUtcNow() + PruneEvery;
    private DateTimeOffset _nextRefreshPurge = clock.GetUtcNow() + PruneEvery;

    protected override TimeSpan Interval => TimeSpan.FromTicks(Math.Min(options.Value.ClientRefreshInterval.Ticks, options.Value.RevocationSyncInterval.Ticks));

    protected override async Task RunRoundAsync(CancellationToken cancellationToken)
    {
        // Summaries of repeated refusals whose window has ended go to the audit trail first (they need no database).
        refusals.Flush(all: false);
        await clients.RefreshAsync(cancellationToken).ConfigureAwait(false);
        await revocations.SyncAsync(cancellationToken).ConfigureAwait(false);
        var now = _clock.GetUtcNow();
        if (now >= _nextPrune)
        {
            _nextPrune = now + PruneEvery;
            await replay.PruneAsync(now, cancellationToken).ConfigureAwait(false);
            await revocationStore.PruneAsync(now - TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);

            // Codes are kept 15 minutes past their 60 s (longer than any access token they gave lives), so a late replay
            // still revokes; refresh tokens a day past their end, so a late one is still recognised and its session
            // closed with the right reason.
            await authorizations.PurgeExpiredAsync(now - TimeSpan.FromMinutes(15), cancellationToken).ConfigureAwait(false);
            if (now >= _nextRefreshPurge)
            {
                _nextRefreshPurge = now + RefreshPurgeEvery;
                await refreshTokens.PurgeExpiredAsync(now - TimeSpan.FromDays(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    protected override void LogFailure(Exception exception) => LogFailed(logger, exception);

    [LoggerMessage(EventId = LogEvents.SyncFailed, Level = LogLevel.Warning, Message = "Client/revocation sync failed; retrying.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
