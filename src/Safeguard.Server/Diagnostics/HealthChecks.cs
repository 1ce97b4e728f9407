using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.State;

namespace Safeguard.Server.Diagnostics;

/// <summary>Ready only while the database answers.</summary>
internal sealed class StoreHealthCheck(StoreProbe probe) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        await probe.CanConnectAsync(cancellationToken).ConfigureAwait(false)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("The database does not answer.");
}

/// <summary>
/// Whether the database answers, asked at most once a second however often <c>/readyz</c> is polled: one answer is
/// shared by every probe within <see cref="MaxAge"/>, and concurrent probes wait for the one query in flight.
/// </summary>
internal sealed class StoreProbe(IStateStore store, TimeProvider time) : IDisposable
{
    /// <summary>How long an answer is reused.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Answer? _last;

    /// <summary>How many times the database was asked (for tests and metrics).</summary>
    public int Queries { get; private set; }

    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        if (_last is { } fresh && time.GetUtcNow() - fresh.At < MaxAge)
        {
            return fresh.CanConnect;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_last is { } again && time.GetUtcNow() - again.At < MaxAge)
            {
                return again.CanConnect;
            }

            var answer = await store.CanConnectAsync(cancellationToken).ConfigureAwait(false);
            Queries++;
            _last = new Answer(answer, time.GetUtcNow());
            return answer;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private sealed record Answer(bool CanConnect, DateTimeOffset At);
}

/// <summary>Ready only while the audit writer runs and its last commit succeeded.</summary>
internal sealed class AuditHealthCheck(AuditWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(writer.IsHealthy ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The audit writer is stopped or cannot commit."));
}

/// <summary>
/// Alive while the audit writer runs (<c>/healthz</c>). A writer that stopped on an internal error never comes back by
/// itself and every request needing the trail would get 503, so the node reports itself dead for its supervisor to
/// restart. A store that is down is not this: the writer retries, and readiness takes the node out meanwhile.
/// </summary>
internal sealed class AuditLivenessCheck(AuditWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(writer.IsRunning ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy());
}

/// <summary>Ready only while a key is active.</summary>
internal sealed class SigningKeyHealthCheck(SigningKeyRing ring) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(ring.GetSigningKey() is not null ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("No signing key is active."));
}

/// <summary>The <c>/readyz</c> body: overall status and each check's status and description. No secrets, no exceptions.</summary>
internal static class HealthResponses
{
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteString("status", report.Status == HealthStatus.Healthy ? "ready" : "not_ready");
            writer.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                writer.WriteStartObject(name);
                writer.WriteString("status", entry.Status == HealthStatus.Healthy ? "ok" : "failing");
                if (entry.Description is not null)
                {
                    writer.WriteString("description", entry.Description);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            await writer.FlushAsync().ConfigureAwait(false);
        }
    }
}
