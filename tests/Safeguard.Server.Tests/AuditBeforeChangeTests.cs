using System.Net;
using System.Text.Json;
using Duende.IdentityModel.Client;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Audit;
using Safeguard.Cli;
using Safeguard.Hosting;
using Safeguard.Storage.Audit;
using Safeguard.Tokens;

namespace Safeguard.Server.Tests;

/// <summary>
/// A change is on the record before it is made: when the trail cannot take the event nothing changes, and a change
/// that fails after its event was recorded gets a second event saying it did not happen.
/// </summary>
public sealed class AuditBeforeChangeTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("sg-before-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task Revocation_TheTrailCannotRecord_RevokesNothing_AndAnswers503()
    {
        await using var server = await RunningServer.StartAsync();
        var secret = await server.AddClientAsync("unrecorded");
        using var http = server.CreateClient();
        var token = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "unrecorded", ClientSecret = secret });
        var jti = Jws.Payload(token.AccessToken!).GetProperty("jti").GetString();

        await server.Services.GetRequiredServiceOf<AuditWriter>().StopAsync();
        var revoke = await http.RevokeTokenAsync(new TokenRevocationRequest { Address = server.ListenAddress + "/revoke", ClientId = "unrecorded", ClientSecret = secret, Token = token.AccessToken! });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, revoke.HttpStatusCode);
        Assert.Contains("nothing was issued or changed", revoke.Raw, StringComparison.Ordinal);
        var stored = await server.Services.GetRequiredServiceOf<IRevocationStore>().GetUnexpiredAsync(server.Time.GetUtcNow(), CancellationToken.None);
        Assert.DoesNotContain(stored, r => r.TokenId == jti);
    }

    [Fact]
    public async Task Revocation_TheStoreFailsAfterTheEvent_IsRecordedAsNotDone_AndTheFailureIsDurable()
    {
        await using var server = await RunningServer.StartWithAsync(services => services.AddSingleton<IRevocationStore, FailingRevocationStore>(), null);
        var secret = await server.AddClientAsync("store-fails");
        using var http = server.CreateClient();
        var token = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "store-fails", ClientSecret = secret });
        var jti = Jws.Payload(token.AccessToken!).GetProperty("jti").GetString();

        var revoke = await http.RevokeTokenAsync(new TokenRevocationRequest { Address = server.ListenAddress + "/revoke", ClientId = "store-fails", ClientSecret = secret, Token = token.AccessToken! });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, revoke.HttpStatusCode);
        var events = await server.AuditEventsAsync();
        var recorded = Assert.Single(events, e => e.Type == AuditEventType.TokenRevoked && e.Outcome == AuditOutcome.Success);
        var notDone = Assert.Single(events, e => e.Type == AuditEventType.TokenRevoked && e.Outcome == AuditOutcome.Error);
        Assert.Equal(jti, recorded.TokenId);
        Assert.Equal(jti, notDone.TokenId);
        Assert.Equal(recorded.EventId, notDone.CorrelationId);
        Assert.StartsWith("not done (TimeoutException)", notDone.Reason, StringComparison.Ordinal);

        // The unhandled failure's own refusal is durable before the answer, like every other refusal.
        var failure = events[^1];
        Assert.Equal(AuditEventType.TokenRefused, failure.Type);
        Assert.Equal(AuditOutcome.Error, failure.Outcome);
        Assert.Equal(503, failure.HttpStatus);
    }

    [Fact]
    public async Task CliChanges_TheTrailCannotRecordThem_ChangeNothing()
    {
        Assert.Equal(0, (await RunAsync("init", "--data", _data)).Exit);
        Assert.Equal(0, (await RunAsync("clients", "add", "--data", _data, "--id", "kept", "--resource", "https://api.example")).Exit);
        var clientBefore = (await RunAsync("clients", "show", "kept", "--data", _data, "--json")).Output;
        var keysBefore = (await RunAsync("keys", "list", "--data", _data, "--json")).Output;

        // The command line's chain is held elsewhere for longer than a command waits: its trail cannot take an event.
        var folder = SafeguardDataFolder.At(_data);
        using var store = new SqliteAuditStore(folder.AuditDatabase);
        var eventsBefore = await store.CountAsync(folder.DefaultAuditChain() + ".cli", CancellationToken.None);
        await using (await store.AcquireChainAsync(folder.DefaultAuditChain() + ".cli", CancellationToken.None))
        {
            var results = await Task.WhenAll(
                RunAsync("clients", "disable", "kept", "--data", _data),
                RunAsync("clients", "rotate-secret", "kept", "--data", _data),
                RunAsync("clients", "add", "--data", _data, "--id", "never", "--resource", "https://api.example"),
                RunAsync("keys", "rotate", "--data", _data),
                RunAsync("keys", "revoke", JsonDocument.Parse(keysBefore).RootElement[0].GetProperty("kid").GetString()!, "--data", _data));

            Assert.All(results, r =>
            {
                Assert.Equal(1, r.Exit);
                Assert.Contains("Nothing was changed.", r.Error, StringComparison.Ordinal);
                Assert.Contains("Safeguard:Audit:ChainId", r.Error, StringComparison.Ordinal);
            });
        }

        Assert.Equal(clientBefore, (await RunAsync("clients", "show", "kept", "--data", _data, "--json")).Output);
        Assert.Equal(1, (await RunAsync("clients", "show", "never", "--data", _data)).Exit);
        Assert.Equal(keysBefore, (await RunAsync("keys", "list", "--data", _data, "--json")).Output);
        Assert.Equal(eventsBefore, await store.CountAsync(folder.DefaultAuditChain() + ".cli", CancellationToken.None));
    }

    [Fact]
    public async Task CliChange_RefusedAfterItsEvent_IsRecordedAsNotDone()
    {
        Assert.Equal(0, (await RunAsync("init", "--data", _data)).Exit);

        var (exit, _, error) = await RunAsync("keys", "revoke", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--data", _data);

        Assert.Equal(1, exit);
        Assert.Contains("No unrevoked key", error, StringComparison.Ordinal);
        var (_, search, _) = await RunAsync("audit", "search", "--data", _data, "--type", "key.revoked");
        var lines = search.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(l => l.TryGetProperty("event", out _)).Select(l => l.GetProperty("event")).ToList();
        Assert.True(lines.Count == 2, search);
        Assert.Equal("success", lines[0].GetProperty("outcome").GetString());
        Assert.Equal("error", lines[1].GetProperty("outcome").GetString());
        Assert.Equal(lines[0].GetProperty("event_id").GetString(), lines[1].GetProperty("correlation_id").GetString());
        Assert.StartsWith("not done", lines[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A revocation store whose writes time out (a database that stopped answering); its feed is empty.</summary>
    private sealed class FailingRevocationStore : IRevocationStore
    {
        public Task RevokeAsync(RevokedToken token, CancellationToken cancellationToken) => throw new TimeoutException("the database did not answer");

        public Task<IReadOnlyList<RevokedToken>> GetUnexpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<RevokedToken>>([]);

        public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
