using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Hosting;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.Configuration;
using Safeguard.Server.Hosting;
using Safeguard.Server.OAuth;
using Safeguard.Storage.Data;

namespace Safeguard.Server.Tests;

/// <summary>
/// The real server: Kestrel with TLS on a free loopback port, a fresh data folder, SQLite or a fresh PostgreSQL
/// database. Clients talk to it over TLS, trusting exactly its development certificate (pinned, not "accept any").
/// Its clock is a <see cref="FakeTimeProvider"/> starting at the real time: it stands still unless a test advances it,
/// so the background loops run when a test says so (<see cref="SyncAsync"/>), never by chance.
/// </summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsData;
    private readonly StringWriter _console;

    private RunningServer(WebApplication app, string dataPath, bool ownsData, FakeTimeProvider time, StringWriter console)
    {
        _app = app;
        _console = console;
        DataPath = dataPath;
        _ownsData = ownsData;
        Time = time;
        Issuer = app.Services.GetRequiredService<ServerEndpoints>().Issuer;
        ListenAddress = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.Listen.TrimEnd('/');
        ManagementAddress = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value.ManagementListen?.TrimEnd('/');
        ServerCertificate = X509CertificateLoader.LoadCertificateFromFile(SafeguardDataFolder.At(dataPath).TlsCertificate);
    }

    /// <summary>What the server printed to standard output (the first administrator's enrolment link).</summary>
    public string ConsoleOutput => _console.ToString(); // written at start-up, before StartAsync returns

    /// <summary>The server's clock.</summary>
    public FakeTimeProvider Time { get; }

    public string Issuer { get; }

    /// <summary>Where this node listens; differs from <see cref="Issuer"/> when nodes share a configured issuer.</summary>
    public string ListenAddress { get; }

    /// <summary>Where this node serves /readyz and /metrics; null when it serves no management endpoint.</summary>
    public string? ManagementAddress { get; }

    public string DataPath { get; }

    public X509Certificate2 ServerCertificate { get; }

    public IServiceProvider Services => _app.Services;

    public string TokenEndpoint => ListenAddress + "/token";

    public static Task<RunningServer> StartAsync(string? postgres = null, string? dataPath = null, params string[] extra) =>
        StartAsync(postgres, dataPath, configure: null, extra);

    /// <summary>
    /// A server listening on a port chosen here (for an issuer that names it, such as https://localhost:PORT): the port
    /// is found free, then bound by the server, so a start that finds another test's listener took it in between tries
    /// another port.
    /// </summary>
    /// <param name="extraFor">The arguments for a port.</param>
    /// <returns>The server and its port.</returns>
    public static async Task<(RunningServer Server, int Port)> StartOnFreePortAsync(Func<int, string[]> extraFor)
    {
        for (var attempt = 1; ; attempt++)
        {
            int port;
            using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
            }

            try
            {
                return (await StartAsync(extra: extraFor(port)), port);
            }
            catch (IOException) when (attempt < 5)
            {
            }
        }
    }

    /// <summary>A server on SQLite whose services <paramref name="configure"/> may add to or replace (a fault, a log capture).</summary>
    public static Task<RunningServer> StartWithAsync(Action<IServiceCollection> configure, string? dataPath, params string[] extra) =>
        StartAsync(postgres: null, dataPath, configure, extra);

    private static async Task<RunningServer> StartAsync(string? postgres, string? dataPath, Action<IServiceCollection>? configure, string[] extra)
    {
        var ownsData = dataPath is null;
        dataPath ??= Directory.CreateTempSubdirectory("sg-server-").FullName;
        var args = new List<string>
        {
            $"--Safeguard:DataPath={dataPath}",
            "--Safeguard:Listen=https://127.0.0.1:0",
            "--Safeguard:ManagementListen=https://127.0.0.1:0",
            // Tests send bursts from one address; RateLimitTests set their own limits.
            "--Safeguard:RateLimits:PerAddressPerSecond=100000",
            "--Safeguard:RateLimits:PerAddressBurst=100000",
            "--Safeguard:ClientRefreshInterval=00:00:00.2",
            "--Safeguard:RevocationSyncInterval=00:00:00.2",
        };
        if (postgres is not null)
        {
            args.Add("--Safeguard:Database:Provider=PostgreSql");
            args.Add($"--Safeguard:Database:ConnectionString={postgres}");
        }

        args.AddRange(extra);
        var level = Environment.GetEnvironmentVariable("SAFEGUARD_TEST_LOG") is { Length: > 0 } ? LogLevel.Information : LogLevel.Warning;
        var time = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var console = new StringWriter();
        var app = SafeguardServer.Build([.. args], builder =>
        {
            builder.Logging.SetMinimumLevel(level);
            builder.Services.AddSingleton<TimeProvider>(time);
            builder.Services.AddSingleton(new ServerConsole(TextWriter.Synchronized(console), Interactive: true));
            configure?.Invoke(builder.Services);
        });
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            if (ownsData)
            {
                Directory.Delete(dataPath, recursive: true);
            }

            throw;
        }

        return new RunningServer(app, dataPath, ownsData, time, console);
    }

    /// <summary>Moves the clock to the next tick of the client and revocation sync and waits until that round has run.</summary>
    public async Task SyncAsync()
    {
        var sync = Services.GetRequiredService<SyncService>();
        var round = sync.NextRoundAsync();
        var options = Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        Time.Advance(options.ClientRefreshInterval < options.RevocationSyncInterval ? options.ClientRefreshInterval : options.RevocationSyncInterval);
        await round.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Moves the clock to the next key-maintenance tick and waits until that round has run.</summary>
    public async Task MaintainKeysAsync()
    {
        var keys = Services.GetRequiredService<KeyMaintenanceService>();
        var round = keys.NextRoundAsync();
        Time.Advance(Services.GetRequiredService<IOptions<ServerOptions>>().Value.KeyMaintenanceInterval);
        await round.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>An HttpClient that trusts only this server's certificate.</summary>
    /// <summary>An HttpClient for the management endpoint, trusting only this server's certificate.</summary>
    public HttpClient CreateManagementClient()
    {
        var http = CreateClient();
        http.BaseAddress = new Uri(ManagementAddress ?? throw new InvalidOperationException("This server has no management endpoint."));
        return http;
    }

    public HttpClient CreateClient(X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == ServerCertificate.GetCertHashString(),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(ListenAddress) };
    }

    /// <summary>Registers a client directly in the store (the CLI tests register through the command line).</summary>
    public async Task<string?> AddClientAsync(
        string clientId,
        string method = ClientAuthenticationMethods.ClientSecretBasic,
        string[]? scopes = null,
        string[]? resources = null,
        string? jwks = null,
        string? certificateThumbprint = null,
        string? certificateSubject = null,
        bool requireDpop = false,
        string[]? introspect = null)
    {
        var now = TimeProvider.System.GetUtcNow();
        var secret = method == ClientAuthenticationMethods.ClientSecretBasic ? ClientSecrets.Generate() : null;
        await Services.GetRequiredService<IClientStore>().AddAsync(new Client
        {
            ClientId = clientId,
            AuthenticationMethod = method,
            GrantTypes = [GrantTypes.ClientCredentials],
            AllowedScopes = scopes ?? ["patient.read", "patient.write"],
            AllowedResources = resources ?? ["https://api.example.org"],
            SecretHash = secret is null ? null : ClientSecrets.Hash(secret),
            Jwks = jwks,
            CertificateThumbprint = certificateThumbprint,
            CertificateSubject = certificateSubject,
            RequireDpop = requireDpop,
            IntrospectionResources = introspect ?? [],
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None);

        // This node sees it at once, as after its next client reload; other nodes see it at theirs (SyncAsync).
        await Services.GetRequiredService<ClientRegistry>().RefreshAsync(CancellationToken.None);
        return secret;
    }

    /// <summary>Registers a client of the authorization-code grant (public when <paramref name="secret"/> is false).</summary>
    public async Task<string?> AddCodeFlowClientAsync(string clientId, string redirectUri, bool secret = true, string[]? scopes = null, bool refresh = false, bool requirePar = false, string? backchannelLogoutUri = null)
    {
        var now = TimeProvider.System.GetUtcNow();
        var value = secret ? ClientSecrets.Generate() : null;
        await Services.GetRequiredService<IClientStore>().AddAsync(new Client
        {
            ClientId = clientId,
            AuthenticationMethod = secret ? ClientAuthenticationMethods.ClientSecretBasic : ClientAuthenticationMethods.None,
            GrantTypes = refresh ? [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken] : [GrantTypes.AuthorizationCode],
            AllowedScopes = scopes ?? ["patient.read"],
            AllowedResources = ["https://api.example.org"],
            RedirectUris = [redirectUri],
            RequirePushedAuthorizationRequests = requirePar,
            BackchannelLogoutUri = backchannelLogoutUri,
            SecretHash = value is null ? null : ClientSecrets.Hash(value),
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None);
        await Services.GetRequiredService<ClientRegistry>().RefreshAsync(CancellationToken.None);
        return value;
    }

    /// <summary>Adds a user with a password and, unless told otherwise, a TOTP authenticator (returned, to compute codes).</summary>
    public async Task<(Safeguard.Users.User User, Safeguard.Users.Authenticator? Totp)> AddUserAsync(string username, string password, bool totp = true, string[]? roles = null)
    {
        var now = Time.GetUtcNow();
        var user = new Safeguard.Users.User
        {
            Subject = Safeguard.Users.UserSubjects.New(),
            Username = username,
            Roles = roles ?? ["clinician"],
            PasswordHash = await Services.GetRequiredService<Safeguard.Users.PasswordHasher>().HashAsync(password, CancellationToken.None),
            PasswordChangedAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await Services.GetRequiredService<Safeguard.Users.IUserStore>().AddAsync(user, CancellationToken.None);
        if (!totp)
        {
            return (user, null);
        }

        var enrollment = Services.GetRequiredService<Safeguard.Users.TotpAuthenticators>().Create(user);
        await Services.GetRequiredService<Safeguard.Users.IAuthenticatorStore>().AddAsync([enrollment.Authenticator], CancellationToken.None);
        return (user, enrollment.Authenticator);
    }

    /// <summary>The TOTP code an authenticator app shows now, by the server's clock.</summary>
    public string TotpCode(Safeguard.Users.Authenticator totp) => Services.GetRequiredService<Safeguard.Users.TotpAuthenticators>().ComputeCode(totp, Time.GetUtcNow());

    /// <summary>Every audit event this node committed, in order.</summary>
    public async Task<IReadOnlyList<AuditEvent>> AuditEventsAsync()
    {
        var writer = Services.GetRequiredService<AuditWriter>();
        var store = Services.GetRequiredService<IAuditStore>();
        var events = new List<AuditEvent>();
        await foreach (var record in store.ReadChainAsync(writer.Chain, 1, CancellationToken.None))
        {
            Assert.True(AuditEventParser.TryParse(record.Body, out var parsed), $"record {record.Sequence} does not parse");
            events.Add(parsed);
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        ServerCertificate.Dispose();
        if (_ownsData)
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }
}

/// <summary>
/// A fresh PostgreSQL database per test class on the server ./test.sh starts, made like <c>safeguard init</c> does: the
/// schema by its owner (the cluster's superuser), and a login role of its own that nodes connect as, granted only what
/// init grants (a server refuses the owner).
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    private readonly string _name = "sg_server_" + Guid.NewGuid().ToString("N")[..12];

    private PostgresDatabase() => (ConnectionString, OwnerConnectionString) = (string.Empty, string.Empty);

    /// <summary>As the application role: what a node serves with.</summary>
    public string ConnectionString { get; private set; }

    /// <summary>As the schema's owner: what <c>safeguard init</c> runs with.</summary>
    public string OwnerConnectionString { get; private set; }

    public string ApplicationRole => _name + "_app";

    public static string Server => Environment.GetEnvironmentVariable("SAFEGUARD_TEST_POSTGRES")
        ?? throw new InvalidOperationException("SAFEGUARD_TEST_POSTGRES is not set: run the tests with ./test.sh, which starts PostgreSQL.");

    public static async Task<PostgresDatabase> CreateAsync()
    {
        var database = new PostgresDatabase();
        await using (var admin = new NpgsqlConnection(Server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database._name}; CREATE ROLE {database.ApplicationRole} LOGIN", admin);
            await create.ExecuteNonQueryAsync();
        }

        database.OwnerConnectionString = new NpgsqlConnectionStringBuilder(Server) { Database = database._name }.ToString();
        database.ConnectionString = new NpgsqlConnectionStringBuilder(Server) { Database = database._name, Username = database.ApplicationRole, Password = null }.ToString();
        using var db = SafeguardDatabase.Open(new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = database.OwnerConnectionString, ApplicationRole = database.ApplicationRole }, SafeguardDataFolder.At(Path.GetTempPath()));
        await db.MigrateAsync(CancellationToken.None);
        return database;
    }

    /// <summary>Takes the database away (no new connections, existing ones killed) or gives it back.</summary>
    public async Task SetAvailableAsync(bool available)
    {
        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();
        await using var alter = new NpgsqlCommand($"ALTER DATABASE {_name} ALLOW_CONNECTIONS {(available ? "true" : "false")}", admin);
        await alter.ExecuteNonQueryAsync();
        if (!available)
        {
            await using var kill = new NpgsqlCommand($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{_name}' AND pid <> pg_backend_pid()", admin);
            await kill.ExecuteNonQueryAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE); DROP ROLE IF EXISTS {ApplicationRole}", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
