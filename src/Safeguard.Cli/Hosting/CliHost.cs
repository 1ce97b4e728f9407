using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Hosting;
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

    private CliHost(ServiceProvider services) => _services = services;

    /// <summary>The data folder's path as configured (nothing is created by asking).</summary>
    public string DataPath => Get<IOptions<DataFolderOptions>>().Value.DataPath;

    /// <summary>The data folder, created if missing.</summary>
    public SafeguardDataFolder Folder => Get<SafeguardDataFolder>();

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

    /// <summary>Records administrative changes durably on the command line's chain; the writer checkpoints and stops before this returns.</summary>
    public async Task AuditAsync(IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        var writer = Get<AuditWriter>();
        await StartWhenFreeAsync(writer, cancellationToken).ConfigureAwait(false);
        foreach (var auditEvent in events)
        {
            await writer.AppendAsync(auditEvent with { NodeId = writer.Chain }, cancellationToken).ConfigureAwait(false);
        }

        await writer.StopAsync().ConfigureAwait(false);
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

    /// <summary>Frees everything the command opened; the key-encryption key is zeroed.</summary>
    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
