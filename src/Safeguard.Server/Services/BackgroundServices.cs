using Safeguard.Keys;
using Safeguard.Server.Hosting;
using Safeguard.Storage.Data;

namespace Safeguard.Server.Services;

/// <summary>
/// Key-ring maintenance: every <c>KeyMaintenanceInterval</c> the node holding the cluster lock (PostgreSQL advisory
/// lock; always this node on SQLite) runs rotation; the others reload what it wrote. Failures are logged and retried;
/// the ring keeps serving its current keys meanwhile.
/// </summary>
internal sealed partial class KeyMaintenanceService(
    SigningKeyRing ring, SafeguardDatabase database, ServerOptions options, ILogger<KeyMaintenanceService> logger) : BackgroundService
{
    /// <summary>The advisory lock number for key rotation ("SGKEYS").</summary>
    public const long RotationLockId = 0x5347_4B45_5953;

    /// <summary>One round: rotate under the lock, or reload.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        var handle = await database.TryAcquireLockAsync(RotationLockId, cancellationToken).ConfigureAwait(false);
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.KeyMaintenanceInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Key-ring maintenance failed; the current keys stay in use and it is retried.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

/// <summary>Pulls changed clients and new revocations, and prunes the replay cache and expired revocations.</summary>
internal sealed partial class SyncService(
    ClientRegistry clients, RevocationService revocations, EfReplayCache replay, EfRevocationStore revocationStore,
    ServerOptions options, TimeProvider time, ILogger<SyncService> logger) : BackgroundService
{
    private static readonly TimeSpan PruneEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var tick = TimeSpan.FromTicks(Math.Min(options.ClientRefreshInterval.Ticks, options.RevocationSyncInterval.Ticks));
        using var timer = new PeriodicTimer(tick);
        var nextPrune = time.GetUtcNow() + PruneEvery;
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await clients.RefreshAsync(stoppingToken).ConfigureAwait(false);
                await revocations.SyncAsync(stoppingToken).ConfigureAwait(false);
                var now = time.GetUtcNow();
                if (now >= nextPrune)
                {
                    nextPrune = now + PruneEvery;
                    await replay.PruneAsync(now, stoppingToken).ConfigureAwait(false);
                    await revocationStore.PruneAsync(now - TimeSpan.FromMinutes(5), stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client/revocation sync failed; retrying.")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
