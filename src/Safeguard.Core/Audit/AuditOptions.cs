using Microsoft.Extensions.Options;

namespace Safeguard.Audit;

/// <summary>How the audit writer queues, commits and checkpoints. Checked by <see cref="AuditOptionsValidator"/>.</summary>
public sealed record AuditOptions
{
    /// <summary>The retention HIPAA requires for documentation (164.316(b)(2)): 6 years.</summary>
    public const int MinimumRetentionDays = 2190;

    /// <summary>
    /// This writer's chain id (one chain per node; a second writer on a chain refuses to start). Default: the machine
    /// name plus the data folder's id (<see cref="Hosting.SafeguardDataFolder.DefaultAuditChain"/>), so unique per data
    /// folder. Letters, digits, <c>.</c>, <c>_</c>, <c>-</c>; at most 64.
    /// </summary>
    public string? ChainId { get; set; }

    /// <summary>Events waiting to be written, at most. Default 65,536. A full queue refuses events (SG9001); it never blocks the caller.</summary>
    public int QueueCapacity { get; set; } = 65_536;

    /// <summary>Events committed in one transaction, at most. Default 4,096.</summary>
    public int MaxBatchSize { get; set; } = 4_096;

    /// <summary>
    /// How long, at most, the writer holds events nobody awaits (Buffered) so that one commit covers many of them: while
    /// only such events are queued, a commit waits until this long after the previous one began, or until an event
    /// someone awaits arrives (that one is never held). Fewer, larger commits cost fewer fsyncs and rewrite the last
    /// page less often; a crash loses at most this much more. Default zero (commit at once); at most 1 second.
    /// </summary>
    public TimeSpan UnawaitedCommitDelay { get; set; }

    /// <summary>A signed checkpoint is written after this many events. Default 10,000.</summary>
    public int CheckpointEveryEvents { get; set; } = 10_000;

    /// <summary>... or after this long, whichever comes first (only if events were written since). Default 30 seconds.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Where signed checkpoints are copied outside the database, as JSON lines: a directory, best on another mount the
    /// database's administrators cannot rewrite (a WORM volume, a synced bucket). Default: <c>DATA/audit-checkpoints</c>,
    /// which does not leave the host (the server warns at start). <c>safeguard audit verify</c> reads it.
    /// </summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>
    /// Where signed checkpoints are also POSTed as JSON (a SIEM, a notary, another organisation): https, or http to
    /// loopback. Default none. A failed delivery is an operational alarm; the checkpoint stays in the database and the directory.
    /// </summary>
    public string? CheckpointWebhook { get; set; }

    /// <summary>How long records are kept, in days. Default and minimum 2,190 (6 years). There is no delete API; older records are archived, never dropped.</summary>
    public int RetentionDays { get; set; } = MinimumRetentionDays;

    /// <summary>The chain id, for a writer composed without a data folder.</summary>
    /// <returns><see cref="ChainId"/>, or the machine name made safe.</returns>
    public string ResolveChainId() =>
        ChainId is { Length: > 0 } id ? id : new string([.. Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-')]);
}

/// <summary>Checks <see cref="AuditOptions"/> and reports every error.</summary>
public sealed class AuditOptionsValidator : IValidateOptions<AuditOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AuditOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var chain = options.ResolveChainId();
        if (chain.Length is 0 or > 64 || !chain.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            errors.Add($"Safeguard:Audit:ChainId is '{chain}'; use 1 to 64 letters, digits, '.', '_' or '-'.");
        }

        if (options.QueueCapacity is < 1 or > 4_194_304)
        {
            errors.Add($"Safeguard:Audit:QueueCapacity is {options.QueueCapacity}; use 1 to 4,194,304.");
        }

        if (options.MaxBatchSize is < 1 or > 65_536)
        {
            errors.Add($"Safeguard:Audit:MaxBatchSize is {options.MaxBatchSize}; use 1 to 65,536.");
        }

        if (options.UnawaitedCommitDelay < TimeSpan.Zero || options.UnawaitedCommitDelay > TimeSpan.FromSeconds(1))
        {
            errors.Add($"Safeguard:Audit:UnawaitedCommitDelay is {options.UnawaitedCommitDelay}; use 00:00:00 to 00:00:01.");
        }

        if (options.CheckpointEveryEvents < 1)
        {
            errors.Add($"Safeguard:Audit:CheckpointEveryEvents is {options.CheckpointEveryEvents}; it must be at least 1.");
        }

        if (options.CheckpointInterval < TimeSpan.FromSeconds(1) || options.CheckpointInterval > TimeSpan.FromHours(1))
        {
            errors.Add($"Safeguard:Audit:CheckpointInterval is {options.CheckpointInterval}; use 00:00:01 to 01:00:00.");
        }

        if (options.CheckpointWebhook is { Length: > 0 } webhook
            && (!Uri.TryCreate(webhook, UriKind.Absolute, out var webhookUri) || !WebhookCheckpointSink.IsAllowed(webhookUri)))
        {
            errors.Add($"Safeguard:Audit:CheckpointWebhook is '{webhook}'; set an absolute https URL (http only to a loopback address), without credentials in it.");
        }

        if (options.CheckpointDirectory is { } directory && string.IsNullOrWhiteSpace(directory))
        {
            errors.Add("Safeguard:Audit:CheckpointDirectory is empty; set a directory, or remove the setting for DATA/audit-checkpoints.");
        }

        if (options.RetentionDays < AuditOptions.MinimumRetentionDays)
        {
            errors.Add($"Safeguard:Audit:RetentionDays is {options.RetentionDays}; HIPAA documentation must be kept 6 years, so at least {AuditOptions.MinimumRetentionDays}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
