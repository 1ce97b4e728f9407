using System.Net;
using Duende.IdentityModel.Client;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Hosting;
using Safeguard.State;
using Safeguard.Storage.Data;

namespace Safeguard.Server.Tests;

/// <summary>Two real nodes on one real PostgreSQL: shared clients and keys, revocations that cross nodes, one rotator, and a database outage.</summary>
public sealed class PostgresServerTests : IAsyncLifetime
{
    private PostgresDatabase _database = null!;
    private string _kekData = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresDatabase.CreateAsync();
        _kekData = Directory.CreateTempSubdirectory("sg-pg-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_kekData, recursive: true);
    }

    /// <summary>Both nodes share the KEK (as production nodes share one from the environment) but not their data folders.</summary>
    private async Task<RunningServer> NodeAsync(string name, string? chainId = "")
    {
        var folder = Path.Combine(_kekData, name);
        Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var kek = SafeguardDataFolder.At(_kekData).KeyEncryptionKey;
        if (!File.Exists(kek))
        {
            KeyEncryptionKeys.LoadOrCreateFile(kek).Dispose();
        }

        var nodeKek = SafeguardDataFolder.At(folder).KeyEncryptionKey;
        File.Copy(kek, nodeKek, overwrite: true);
        File.SetUnixFileMode(nodeKek, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string[] chain = chainId switch
        {
            null => [],
            "" => [$"--Safeguard:Audit:ChainId={name}"],
            _ => [$"--Safeguard:Audit:ChainId={chainId}"],
        };
        return await RunningServer.StartAsync(_database.ConnectionString, folder, [.. chain, "--Safeguard:Issuer=https://auth.cluster.test"]);
    }

    [Fact]
    public async Task TwoNodes_ShareClientsAndKeys_AndARevocationOnOneIsHonouredByTheOther()
    {
        await using var a = await NodeAsync("node-a");
        await using var b = await NodeAsync("node-b");
        var secret = await a.AddClientAsync("pg-client", resources: ["https://api.example.org"], introspect: ["https://api.example.org"]);

        var token = await a.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = a.TokenEndpoint, ClientId = "pg-client", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);

        // Node B knows the client after its next reload, and the key (one key ring in the database).
        await b.SyncAsync();
        var introspectB = await b.CreateClient().IntrospectTokenAsync(new TokenIntrospectionRequest { Address = b.ListenAddress + "/introspect", ClientId = "pg-client", ClientSecret = secret, Token = token.AccessToken! });
        Assert.True(introspectB.IsActive, introspectB.Raw);
        Assert.Equal(a.Services.GetRequiredServiceOf<SigningKeyRing>().GetSigningKey()!.KeyId, b.Services.GetRequiredServiceOf<SigningKeyRing>().GetSigningKey()!.KeyId);

        var revoke = await a.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = a.ListenAddress + "/revoke", ClientId = "pg-client", ClientSecret = secret, Token = token.AccessToken! });
        Assert.False(revoke.IsError);

        await b.SyncAsync();
        var inactiveOnB = !(await b.CreateClient().IntrospectTokenAsync(new TokenIntrospectionRequest { Address = b.ListenAddress + "/introspect", ClientId = "pg-client", ClientSecret = secret, Token = token.AccessToken! })).IsActive;
        Assert.True(inactiveOnB, "node B still reports the revoked token active after its next sync");
    }

    [Fact]
    public async Task ARevocationOnOneNode_WakesTheOtherNodesFeed_ThroughTheDatabasesPush()
    {
        await using var a = await NodeAsync("feed-a");
        await using var b = await NodeAsync("feed-b");
        var secret = await a.AddClientAsync("pg-feed", resources: ["https://api.example.org"], introspect: ["https://api.example.org"]);
        await b.SyncAsync();
        var token = await a.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = a.TokenEndpoint, ClientId = "pg-feed", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);
        using var http = b.CreateClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("pg-feed:" + secret)));

        // The first call returns at once; the second waits for anything newer, and starts node B's listener.
        var first = await FeedAsync(http, b, null, 0, 0);
        var waiting = FeedAsync(http, b, first.GetProperty("next").GetInt64(), first.GetProperty("have").GetInt32(), 20);
        var pushes = b.Services.GetRequiredServiceOf<Safeguard.Tokens.IRevocationFeedNotifications>();
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (!pushes.IsListening)
        {
            Assert.True(TimeProvider.System.GetUtcNow() < deadline, "node B never listened for the database's pushes");
            await Task.Delay(50);
        }

        var jti = System.Text.Json.JsonDocument.Parse(Convert.FromBase64String(Pad(token.AccessToken!.Split('.')[1]))).RootElement.GetProperty("jti").GetString();
        var revoked = System.Diagnostics.Stopwatch.StartNew();
        var revoke = await a.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = a.ListenAddress + "/revoke", ClientId = "pg-feed", ClientSecret = secret, Token = token.AccessToken! });
        Assert.False(revoke.IsError);
        var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Contains(answer.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "jti" && e.GetProperty("value").GetString() == jti);
        Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(2), $"node B's feed answered {revoked.Elapsed} after node A's revocation");
    }

    private static async Task<System.Text.Json.JsonElement> FeedAsync(HttpClient http, RunningServer node, long? since, int have, int wait)
    {
        var form = new Dictionary<string, string> { ["have"] = have.ToString(System.Globalization.CultureInfo.InvariantCulture), ["wait"] = wait.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (since is { } value)
        {
            form["since"] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using var response = await http.PostAsync(node.ListenAddress + "/revocations", new FormUrlEncodedContent(form));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return System.Text.Json.JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string Pad(string base64Url)
    {
        var text = base64Url.Replace('-', '+').Replace('_', '/');
        return text + new string('=', (4 - (text.Length % 4)) % 4);
    }

    [Fact]
    public async Task TwoNodesOnOneHost_ConfiguredWithNothingButTheDatabase_EachWriteTheirOwnChain()
    {
        // Same machine name, same database, no chain id: the data folders' ids keep the chains apart.
        await using var a = await NodeAsync("host-a", chainId: null);
        await using var b = await NodeAsync("host-b", chainId: null);
        var secret = await a.AddClientAsync("two-chains");
        await b.SyncAsync();
        foreach (var node in new[] { a, b, a, b })
        {
            var token = await node.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = node.TokenEndpoint, ClientId = "two-chains", ClientSecret = secret });
            Assert.False(token.IsError, token.Error);
        }

        var chainA = a.Services.GetRequiredServiceOf<AuditWriter>().Chain;
        var chainB = b.Services.GetRequiredServiceOf<AuditWriter>().Chain;
        Assert.NotEqual(chainA, chainB);
        Assert.Equal(SafeguardDataFolder.At(a.DataPath).DefaultAuditChain(), chainA);
        var machine = new AuditOptions().ResolveChainId();
        Assert.StartsWith(machine[..Math.Min(40, machine.Length)] + "-", chainB, StringComparison.Ordinal);
        Assert.Equal(2, (await a.AuditEventsAsync()).Count(e => e.Type == AuditEventType.TokenIssued));
        Assert.Equal(2, (await b.AuditEventsAsync()).Count(e => e.Type == AuditEventType.TokenIssued));
        Assert.True(a.Services.GetRequiredServiceOf<AuditWriter>().IsHealthy && b.Services.GetRequiredServiceOf<AuditWriter>().IsHealthy);
    }

    [Fact]
    public async Task TwoNodesGivenOneChainId_TheSecondRefusesToStart_NamingTheSetting()
    {
        await using var a = await NodeAsync("dup-a", chainId: "dup-chain");

        var refused = await Assert.ThrowsAsync<AuditChainInUseException>(() => NodeAsync("dup-b", chainId: "dup-chain"));

        Assert.Contains("Safeguard:Audit:ChainId", refused.Message, StringComparison.Ordinal);
        Assert.Contains("'dup-chain'", refused.Message, StringComparison.Ordinal);
        var secret = await a.AddClientAsync("dup-client");
        var token = await a.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = a.TokenEndpoint, ClientId = "dup-client", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);
    }

    [Fact]
    public async Task ServingAsASuperuserOrTheAuditTablesOwner_IsRefused()
    {
        var asSuperuser = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningServer.StartAsync(_database.OwnerConnectionString, Path.Combine(_kekData, "superuser")));

        // A role that is no superuser but a member of the owner's role could drop the triggers just the same.
        var member = _database.ApplicationRole + "_owner";
        await ExecuteAsAdminAsync($"CREATE ROLE {member} LOGIN; GRANT postgres TO {member}");
        try
        {
            var asMember = new Npgsql.NpgsqlConnectionStringBuilder(_database.ConnectionString) { Username = member }.ToString();
            var asOwner = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningServer.StartAsync(asMember, Path.Combine(_kekData, "owner")));

            Assert.Contains("is a superuser", asSuperuser.Message, StringComparison.Ordinal);
            Assert.Contains($"'{member}', which owns the audit tables", asOwner.Message, StringComparison.Ordinal);
            Assert.All(new[] { asSuperuser, asOwner }, e => Assert.Contains("Safeguard:Database:ApplicationRole", e.Message, StringComparison.Ordinal));
        }
        finally
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            await ExecuteAsAdminAsync($"DROP ROLE {member}");
        }
    }

    private static async Task ExecuteAsAdminAsync(string sql)
    {
        await using var admin = new Npgsql.NpgsqlConnection(PostgresDatabase.Server);
        await admin.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task RotationLock_IsHeldByExactlyOneNodeAtATime()
    {
        using var one = SafeguardDatabase.Open(new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = _database.ConnectionString }, SafeguardDataFolder.At(_kekData));
        using var two = SafeguardDatabase.Open(new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = _database.ConnectionString }, SafeguardDataFolder.At(_kekData));

        var held = await ((ILeaderLock)one).TryAcquireAsync(LeaderLocks.KeyRotation, CancellationToken.None);
        Assert.NotNull(held);
        Assert.Null(await ((ILeaderLock)two).TryAcquireAsync(LeaderLocks.KeyRotation, CancellationToken.None));
        await held.DisposeAsync();
        var taken = await ((ILeaderLock)two).TryAcquireAsync(LeaderLocks.KeyRotation, CancellationToken.None);
        Assert.NotNull(taken);
        await taken.DisposeAsync();
    }

    [Fact]
    public async Task DatabaseDown_Gets503AndNoToken_ReadinessFails_ThenRecovers()
    {
        await using var node = await NodeAsync("node-outage");
        var secret = await node.AddClientAsync("outage-client");
        using var http = node.CreateClient();
        var before = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = node.TokenEndpoint, ClientId = "outage-client", ClientSecret = secret });
        Assert.False(before.IsError, before.Error);

        await _database.SetAvailableAsync(false);
        try
        {
            var during = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = node.TokenEndpoint, ClientId = "outage-client", ClientSecret = secret });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, during.HttpStatusCode);
            Assert.Equal("temporarily_unavailable", Jws.ErrorOf(during));
            Assert.Null(during.AccessToken);
            using var management = node.CreateManagementClient();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await management.GetAsync("/readyz")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await _database.SetAvailableAsync(true);
        }

        // The audit writer backs off after the failed commit (at most 5 s on its clock); pooled connections the
        // outage broke are dropped as requests find them, one per failed attempt.
        node.Time.Advance(TimeSpan.FromSeconds(10));
        TokenResponse after = null!;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            after = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = node.TokenEndpoint, ClientId = "outage-client", ClientSecret = secret });
            if (!after.IsError)
            {
                break;
            }

            node.Time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.False(after.IsError, "no recovery: " + after.Error);
        var events = await node.AuditEventsAsync();
        var issuedIds = events.Where(e => e.Type == AuditEventType.TokenIssued).Select(e => e.TokenId).ToHashSet();
        Assert.Contains(Jws.Payload(before.AccessToken!).GetProperty("jti").GetString(), issuedIds);
        Assert.Contains(Jws.Payload(after.AccessToken!).GetProperty("jti").GetString(), issuedIds);
    }
}

internal static class ServiceProviderExtensions
{
    public static T GetRequiredServiceOf<T>(this IServiceProvider services)
        where T : notnull => (T)(services.GetService(typeof(T)) ?? throw new InvalidOperationException(typeof(T).Name));
}
