using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Storage.Data;

namespace Safeguard.Cli.Audit;

/// <summary>What the audit commands share: the trail to read, the trusted audit keys, filters and reports.</summary>
internal static class AuditTrail
{
    /// <summary>
    /// The trail: PostgreSQL when the configuration (or <c>--database</c>) names it, else the data folder's
    /// <c>audit.db</c>. Null, with the reason written, when the embedded default has no trail yet (none is created).
    /// </summary>
    public static async Task<IAuditStore?> OpenAsync(CliContext context, CliHost host)
    {
        if (host.Get<IOptions<DatabaseOptions>>().Value.Provider == DatabaseProvider.Sqlite
            && !File.Exists(SafeguardDataFolder.At(host.DataPath).AuditDatabase))
        {
            await context.Error.WriteLineAsync($"No audit trail in '{host.DataPath}' (audit.db not found).").ConfigureAwait(false);
            return null;
        }

        return host.Get<IAuditStore>();
    }

    /// <summary>The audit public keys of the data folder, which checkpoints, proofs and archives are verified with.</summary>
    public static async Task<IReadOnlyList<SigningKey>> TrustedKeysAsync(CliHost host, CancellationToken cancellationToken)
    {
        var keys = host.Get<AuditSigningKeys>();
        await keys.LoadAsync(createIfMissing: false, cancellationToken).ConfigureAwait(false);
        return keys.Trusted;
    }

    public static (AuditFilter? Filter, string? Error) ParseFilter(string? since, string? until, string? subject, string? patient, string? type, string? outcome)
    {
        DateTimeOffset? from = null, to = null;
        if (since is not null)
        {
            if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return (null, $"--since '{since}' is not a date or time (use ISO 8601, for example 2026-11-01 or 2026-11-01T08:00:00Z).");
            }

            from = parsed;
        }

        if (until is not null)
        {
            if (!DateTimeOffset.TryParse(until, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return (null, $"--until '{until}' is not a date or time (use ISO 8601).");
            }

            to = parsed;
        }

        AuditEventType? eventType = null;
        if (type is not null)
        {
            if (!AuditEventTypes.TryParse(type, out AuditEventType parsed))
            {
                return (null, $"--type '{type}' is not an event type; use one of {string.Join(", ", Enum.GetValues<AuditEventType>().Select(AuditEventTypes.WireName))}.");
            }

            eventType = parsed;
        }

        AuditOutcome? eventOutcome = null;
        if (outcome is not null)
        {
            if (!AuditEventTypes.TryParse(outcome, out AuditOutcome parsed))
            {
                return (null, $"--outcome '{outcome}' is not success, denied or error.");
            }

            eventOutcome = parsed;
        }

        return (new AuditFilter { Since = from, Until = to, Subject = subject, PatientId = patient, Type = eventType, Outcome = eventOutcome }, null);
    }

    public static async Task WriteReportAsync(TextWriter output, AuditVerificationReport report, bool json, TimeSpan elapsed)
    {
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(report, AuditJsonContext.Default.AuditVerificationReport)).ConfigureAwait(false);
            return;
        }

        foreach (var chain in report.Chains)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"chain {chain.Chain}: {chain.Events} events, {chain.CheckpointsVerified} checkpoints verified: {(chain.IsIntact ? "intact" : $"BROKEN at {chain.Problems[0].Sequence}")}")).ConfigureAwait(false);
            foreach (var problem in chain.Problems)
            {
                await output.WriteLineAsync($"  {problem.Kind.ToString().ToLowerInvariant()} at {problem.Sequence}: {problem.Detail}").ConfigureAwait(false);
            }
        }

        var events = report.Chains.Sum(c => c.Events);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{(report.IsIntact ? "Audit trail intact" : "AUDIT TRAIL TAMPERED")}: {events} events in {report.Chains.Count} chain(s), checked in {elapsed.TotalSeconds:0.00} s.")).ConfigureAwait(false);
    }
}

/// <summary>A one-line progress bar on a terminal (stderr).</summary>
internal sealed class TerminalProgress(TextWriter writer, long total) : IProgress<long>
{
    public void Report(long value)
    {
        var fraction = total == 0 ? 1 : Math.Min(1, (double)value / total);
        var filled = (int)(fraction * 40);
        writer.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', 40 - filled)}] {fraction:P0} {value:N0}/{total:N0}"));
    }

    public void Done() => writer.Write("\r" + new string(' ', 80) + "\r");
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(AuditVerificationReport))]
internal sealed partial class AuditJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
