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
    private async Task<RunningServer> NodeAsync(string name)
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
        return await RunningServer.StartAsync(_database.ConnectionString, folder, $"--Safeguard:Audit:ChainId={name}", "--Safeguard:Issuer=https://auth.cluster.test");
    }

    [Fact]
    public async Task TwoNodes_ShareClientsAndKeys_AndARevocationOnOneIsHonouredByTheOther()
    {
        await using var a = await NodeAsync("node-a");
        await using var b = await NodeAsync("node-b");
        var secret = await a.AddClientAsync("pg-client", resources: ["https://api.example.org"], introspect: ["https://api.example.org"]);

        var token = await a.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = a.TokenEndpoint, ClientId = "pg-client", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);

        // Node B knows the client (first use loads it) and the key (one key ring in the database).
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
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/readyz")).StatusCode);
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
