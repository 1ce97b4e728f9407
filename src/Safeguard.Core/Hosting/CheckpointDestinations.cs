using Safeguard.Audit;

namespace Safeguard.Hosting;

/// <summary>
/// Where a node's checkpoints are copied (<see cref="AuditOptions.CheckpointDirectory"/> and
/// <see cref="AuditOptions.CheckpointWebhook"/>), and whether any copy leaves the data folder: a copy only beside the
/// database can be rewritten by whoever rewrites the database, so it proves little on its own.
/// </summary>
public sealed record CheckpointDestinations(string Directory, Uri? Webhook, bool DirectoryInDataFolder)
{
    /// <summary>Whether some copy is kept outside the data folder (another directory, or the webhook).</summary>
    public bool LeaveTheDataFolder => Webhook is not null || !DirectoryInDataFolder;

    /// <summary>The destinations the options name for <paramref name="folder"/>.</summary>
    /// <param name="options">The audit options.</param>
    /// <param name="folder">The data folder.</param>
    /// <returns>The destinations.</returns>
    public static CheckpointDestinations Of(AuditOptions options, SafeguardDataFolder folder)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(folder);
        var directory = options.CheckpointDirectory is { Length: > 0 } configured ? Path.GetFullPath(configured) : folder.AuditCheckpoints;
        var root = Path.TrimEndingDirectorySeparator(folder.Root) + Path.DirectorySeparatorChar;
        var inside = (Path.TrimEndingDirectorySeparator(directory) + Path.DirectorySeparatorChar).StartsWith(root, StringComparison.Ordinal);
        var webhook = options.CheckpointWebhook is { Length: > 0 } url ? new Uri(url) : null;
        return new CheckpointDestinations(directory, webhook, inside);
    }

    /// <summary>The sink writing to every destination.</summary>
    /// <returns>The sink (dispose it).</returns>
    public CompositeCheckpointSink CreateSink()
    {
        var sinks = new List<IAuditCheckpointSink> { new DirectoryCheckpointSink(Directory) };
        if (Webhook is not null)
        {
            sinks.Add(new WebhookCheckpointSink(Webhook));
        }

        return new CompositeCheckpointSink(sinks);
    }
}
