using System.Net;
using Duende.IdentityModel.Client;
using Safeguard.Audit;
using Safeguard.Hosting;

namespace Safeguard.Server.Tests;

/// <summary>One writer per audit chain, a default chain unique per data folder, and a liveness probe that sees the writer.</summary>
public sealed class AuditChainTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("sg-chain-").FullName;

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public async Task ASecondServerOnTheSameDataFolder_RefusesToStart_NamingTheChainSetting()
    {
        var data = Path.Combine(_parent, "shared");
        await using var first = await RunningServer.StartAsync(dataPath: data);

        var refused = await Assert.ThrowsAsync<AuditChainInUseException>(() => RunningServer.StartAsync(dataPath: data));

        Assert.Contains("Safeguard:Audit:ChainId", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"'{SafeguardDataFolder.At(data).DefaultAuditChain()}'", refused.Message, StringComparison.Ordinal);
        var secret = await first.AddClientAsync("still-served");
        var token = await first.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = first.TokenEndpoint, ClientId = "still-served", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);
    }

    [Fact]
    public async Task TheDefaultChain_StaysWithTheDataFolderAcrossRestarts_AndDiffersBetweenFolders()
    {
        var one = Path.Combine(_parent, "one");
        var two = Path.Combine(_parent, "two");
        string first, again, other;
        await using (var server = await RunningServer.StartAsync(dataPath: one))
        {
            first = server.Services.GetRequiredServiceOf<AuditWriter>().Chain;
        }

        await using (var server = await RunningServer.StartAsync(dataPath: one))
        {
            again = server.Services.GetRequiredServiceOf<AuditWriter>().Chain;
        }

        await using (var server = await RunningServer.StartAsync(dataPath: two))
        {
            other = server.Services.GetRequiredServiceOf<AuditWriter>().Chain;
        }

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Matches("^[A-Za-z0-9._-]{1,40}-[0-9a-f]{12}$", first);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SafeguardDataFolder.At(one).NodeIdFile));
    }

    [Fact]
    public void TheFoldersId_IsCreatedOnce_WhenManyProcessesStartTogether()
    {
        var folder = SafeguardDataFolder.At(Path.Combine(_parent, "race")).EnsureCreated();

        var chains = Enumerable.Range(0, 16).AsParallel().WithDegreeOfParallelism(8).Select(_ => folder.DefaultAuditChain()).ToArray();

        Assert.Single(chains.Distinct());
        Assert.Equal(["node-id"], Directory.EnumerateFiles(folder.Root).Select(Path.GetFileName));
    }

    [Fact]
    public void ADamagedFolderId_IsRefused_NotReplaced()
    {
        var folder = SafeguardDataFolder.At(Path.Combine(_parent, "damaged")).EnsureCreated();
        File.WriteAllText(folder.NodeIdFile, "not-an-id");

        var error = Assert.Throws<InvalidOperationException>(folder.DefaultAuditChain);

        Assert.Contains(folder.NodeIdFile, error.Message, StringComparison.Ordinal);
        Assert.Equal("not-an-id", File.ReadAllText(folder.NodeIdFile));
    }

    [Fact]
    public async Task Healthz_GoesUnhealthyWhenTheAuditWriterHasStopped_AndSaysNothingMore()
    {
        await using var server = await RunningServer.StartAsync();
        var secret = await server.AddClientAsync("healthz-client");
        using var http = server.CreateClient();
        using (var alive = await http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
            Assert.Equal("Healthy", await alive.Content.ReadAsStringAsync());
        }

        await server.Services.GetRequiredServiceOf<AuditWriter>().StopAsync();

        using var dead = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, dead.StatusCode);
        Assert.Equal("Unhealthy", await dead.Content.ReadAsStringAsync());
        var token = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "healthz-client", ClientSecret = secret });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, token.HttpStatusCode);
    }
}
