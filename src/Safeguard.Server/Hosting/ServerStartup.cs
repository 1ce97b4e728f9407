using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Server.Audit;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Server.Revocation;
using Safeguard.State;

namespace Safeguard.Server.Hosting;

/// <summary>
/// Brings the node up before Kestrel accepts a connection: schema (migrated on the embedded default; on PostgreSQL
/// it must already be current, see <c>safeguard init</c>), the audit writer, the key ring (with every key event
/// audited), clients and revocations. Stops the audit writer last, after the listener has drained.
/// </summary>
internal sealed partial class ServerStartup(
    IStateStore store,
    AuditWriter writer,
    ServerAudit audit,
    RefusalAggregator refusals,
    SigningKeyRing ring,
    KeyMaintenanceService keys,
    ClientRegistry clients,
    RevocationService revocations,
    ServerEndpoints endpoints,
    ServerCertificate certificate,
    CheckpointDestinations checkpoints,
    FirstAdministrator firstAdministrator,
    ILogger<ServerStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
        await store.EnsureLeastPrivilegeAsync(cancellationToken).ConfigureAwait(false);
        await writer.StartAsync(cancellationToken).ConfigureAwait(false);
        ring.LifecycleChanged += audit.OnKeyLifecycle;
        await keys.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        await clients.LoadAsync(cancellationToken).ConfigureAwait(false);
        await revocations.SyncAsync(cancellationToken).ConfigureAwait(false);
        await firstAdministrator.RunAsync(cancellationToken).ConfigureAwait(false);
        if (!checkpoints.LeaveTheDataFolder)
        {
            LogCheckpointsOnlyInDataFolder(logger, checkpoints.Directory);
        }

        LogStarted(logger, endpoints.Issuer, store.ProviderName, certificate.Fingerprint, certificate.DevelopmentCertificatePath ?? "(configured certificate)");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        ring.LifecycleChanged -= audit.OnKeyLifecycle;
        refusals.Flush(all: true);
        await writer.StopAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.AuditCheckpointsOnlyInDataFolder, Level = LogLevel.Warning,
        Message = "Audit checkpoints are copied only to {Directory}, inside the data folder: whoever can rewrite the database on this host can rewrite them too. Set Safeguard:Audit:CheckpointDirectory to another mount, or Safeguard:Audit:CheckpointWebhook.")]
    private static partial void LogCheckpointsOnlyInDataFolder(ILogger logger, string directory);

    [LoggerMessage(EventId = LogEvents.ServerReady, Level = LogLevel.Information,
        Message = "Safeguard is ready at {Issuer} on {Provider}. TLS certificate SHA-256 fingerprint {Fingerprint}; certificate: {CertificatePath}")]
    private static partial void LogStarted(ILogger logger, string issuer, string provider, string fingerprint, string certificatePath);
}
