using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Server.Configuration;
using Safeguard.State;

namespace Safeguard.Cli.Hosting;

/// <summary>
/// What a command composes: the same <c>AddSafeguardCore</c> and <c>AddSafeguardStorage</c> as the server, over the same
/// configuration sources (<see cref="SafeguardConfiguration"/>), with <c>--data</c> and <c>--database</c> as the last
/// word. Every option is validated before anything is opened. Administrative changes are audited on the command line's
/// own chain (the data folder's default chain with <c>.cli</c>), so they never contend with a running server's chain;
/// two commands at once take turns on it.
/// </summary>
internal sealed class CliHost : IAsyncDisposable
{
    private static readonly TimeSpan ChainWait = TimeSpan.FromSeconds(10);

    private readonly ServiceProvider _services;
    private bool _writerStarted;

    private CliHost(ServiceProvider services) => _services = services;

    /// <summary>The data folder's path as configured (nothing is created by asking).</summary>
    public string DataPath => Get<IOptions<DataFolderOptions>>().Value.DataPath;

    /// <summary>The data folder, created if missing.</summary>
    public SafeguardDataFolder Folder => Get<SafeguardDataFolder>();

    /// <summary>The issuer of a server on this configuration (the origin its links are on).</summary>
    public string Issuer => Get<IOptions<ServerOptions>>().Value.ResolveIssuer();

    /// <summary>The database's provider name (<c>sqlite</c>, <c>postgresql</c>).</summary>
    public string Provider => Get<IStateStore>().ProviderName;

    /// <summary>Composes the services for one command.</summary>
    /// <param name="configurationArgs">The command line's <c>--Safeguard:...</c> arguments.</param>
    /// <param name="data">The <c>--data</c> folder, or null for the configured one.</param>
    /// <param name="database">A PostgreSQL connection string from <c>--database</c>, or null for the configured database.</param>
    /// <returns>The host.</returns>
    /// <exception cref="OptionsValidationException">Some option is invalid (every failure is listed).</exception>
    public static CliHost Create(IReadOnlyList<string> configurationArgs, string? data, string? database)
    {
        var args = new List<string>(configurationArgs);
        if (data is { Length: > 0 })
        {
            args.Add($"--{SafeguardConfiguration.Section}:DataPath={data}");
        }

        if (database is { Length: > 0 })
        {
            args.Add($"--{SafeguardConfiguration.Section}:Database:Provider=PostgreSql");
            args.Add($"--{SafeguardConfiguration.Section}:Database:ConnectionString={database}");
        }

        SafeguardDataFolder.RestrictNewFiles();
        var configuration = SafeguardConfiguration.Build(args);
        var services = new ServiceCollection();

        // No log providers: a command reports through its own output and exit code.
        services.AddLogging();
        // The command line's own chain beside the data folder's default chain, whatever chain a server on it is configured with.
        services.AddSingleton(sp => SafeguardCoreServiceCollectionExtensions.CreateAuditWriter(sp, sp.GetRequiredService<SafeguardDataFolder>().DefaultAuditChain() + ".cli"));
        services.AddSafeguardCore(configuration).AddSafeguardStorage(configuration);
        // The server's own settings are read only for its issuer (the origin of enrolment links); the server validates them.
        services.AddOptions<ServerOptions>().Bind(configuration.GetSection(SafeguardConfiguration.Section));
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        try
        {
            SafeguardOptionsValidation.ValidateAll(provider);
        }
        catch
        {
            provider.Dispose();
            throw;
        }

        return new CliHost(provider);
    }

    /// <summary>A service of the composition.</summary>
    public T Get<T>()
        where T : notnull => _services.GetRequiredService<T>();

    /// <summary>Makes the schema usable: the embedded default is migrated; a shared database only with <paramref name="migrate"/> (<c>init</c>), else it must be current.</summary>
    public Task PrepareAsync(bool migrate, CancellationToken cancellationToken) => Get<IStateStore>().PrepareAsync(migrate, cancellationToken);

    /// <summary>
    /// Records events durably on the command line's chain (the writer starts on first use and checkpoints and stops
    /// when the host is disposed).
    /// </summary>
    /// <exception cref="AuditUnavailableException">The trail cannot take them.</exception>
    public async Task AuditAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        var writer = Get<AuditWriter>();
        if (!_writerStarted)
        {
            await StartWhenFreeAsync(writer, cancellationToken).ConfigureAwait(false);
            _writerStarted = true;
        }

        foreach (var auditEvent in events)
        {
            await writer.AppendAsync(auditEvent with { NodeId = writer.Chain }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Makes an administrative change only once it is on the record: <paramref name="change"/> is made durable first
    /// (if the trail cannot take it, nothing is changed and the command fails), then <paramref name="apply"/> runs. If
    /// the change then fails or is refused, a second event, correlated to the first, records that it did not happen.
    /// </summary>
    /// <param name="change">The event describing the change, as if it succeeds.</param>
    /// <param name="apply">Makes the change; false when it was refused (the command says why).</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>Whether the change was made.</returns>
    /// <exception cref="AuditUnavailableException">The trail cannot record the change; nothing was changed.</exception>
    public async Task<bool> ChangeAsync(AuditEvent change, Func<Task<bool>> apply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(apply);
        try
        {
            await AuditAsync([change], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuditUnavailableException or AuditChainInUseException)
        {
            var code = ex is AuditUnavailableException unavailable ? unavailable.ErrorCode : SafeguardErrorCodes.AuditStoreUnavailable;
            throw new AuditUnavailableException(code, $"{ex.Message} Nothing was changed.", ex);
        }

        var done = false;
        try
        {
            done = await apply().ConfigureAwait(false);
            return done;
        }
        finally
        {
            if (!done)
            {
                await AuditAsync([NotDone(change, "the change was refused or failed after it was recorded")], CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The event that voids <paramref name="change"/>: same subject and resource, outcome error, pointing at it by event id.</summary>
    public static AuditEvent NotDone(AuditEvent change, string why)
    {
        ArgumentNullException.ThrowIfNull(change);
        var now = TimeProvider.System.GetUtcNow();
        return change with
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Outcome = AuditOutcome.Error,
            Reason = $"not done ({why}): {change.Reason}",
            CorrelationId = change.EventId,
        };
    }

    /// <summary>Starts the writer, waiting up to 10 seconds while another command holds the chain (commands are brief).</summary>
    private async Task StartWhenFreeAsync(AuditWriter writer, CancellationToken cancellationToken)
    {
        var time = Get<TimeProvider>();
        var deadline = time.GetUtcNow() + ChainWait;
        while (true)
        {
            try
            {
                await writer.StartAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (AuditChainInUseException) when (time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops the audit writer (a final checkpoint over the command's events), then frees everything the command opened; the key-encryption key is zeroed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_writerStarted)
        {
            await Get<AuditWriter>().StopAsync().ConfigureAwait(false);
        }

        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
