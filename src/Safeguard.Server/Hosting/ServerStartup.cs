using Safeguard.Keys;
using Safeguard.Server.Services;
using Safeguard.Storage.Data;

namespace Safeguard.Server.Hosting;

/// <summary>
/// Brings the node up before Kestrel accepts a connection: schema (migrated on the embedded default; on PostgreSQL
/// it must already be current, see <c>safeguard init</c>), the audit writer, the key ring (with every key event
/// audited), clients and revocations. Stops the audit writer last, after the listener has drained.
/// </summary>
internal sealed partial class ServerStartup(
    SafeguardDatabase database,
    ServerAudit audit,
    SigningKeyRing ring,
    KeyMaintenanceService keys,
    ClientRegistry clients,
    RevocationService revocations,
    ServerContext serverContext,
    ILogger<ServerStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var pending = await database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false);
            if (pending.Count > 0)
            {
                throw new InvalidOperationException(
                    $"The PostgreSQL schema is not current ({pending.Count} migration(s) pending); run 'safeguard init --database ...' first.");
            }
        }

        await audit.Writer.StartAsync(cancellationToken).ConfigureAwait(false);
        ring.LifecycleChanged += audit.OnKeyLifecycle;
        await keys.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        await clients.LoadAsync(cancellationToken).ConfigureAwait(false);
        await revocations.SyncAsync(cancellationToken).ConfigureAwait(false);
        LogStarted(logger, serverContext.Endpoints.Issuer, database.Provider, serverContext.CertificateFingerprint,
            serverContext.DevelopmentCertificatePath ?? "(configured certificate)");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        ring.LifecycleChanged -= audit.OnKeyLifecycle;
        await audit.Writer.StopAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Safeguard is ready at {Issuer} on {Provider}. TLS certificate SHA-256 fingerprint {Fingerprint}; certificate: {CertificatePath}")]
    private static partial void LogStarted(ILogger logger, string issuer, DatabaseProvider provider, string fingerprint, string certificatePath);
}
