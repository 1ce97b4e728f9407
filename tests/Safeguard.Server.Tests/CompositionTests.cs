using System.Text.Json;
using Duende.IdentityModel.Client;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Cli;
using Safeguard.Hosting;
using Safeguard.Keys;

namespace Safeguard.Server.Tests;

/// <summary>The CLI and the server compose the same parts from the same configuration, so what one writes the other honours.</summary>
public sealed class CompositionTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("sg-compose-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task KeysRotate_HonoursTheDataFoldersSettings_AndTheServerSignsWithThatKeyOnceItIsDue()
    {
        await File.WriteAllTextAsync(SafeguardDataFolder.At(_data).Settings,
            """{ "Safeguard": { "Keys": { "Algorithm": "ES384", "PropagationTime": "02:00:00" } } }""");

        Assert.Equal(0, (await RunAsync("init", "--data", _data)).Exit);
        var (exit, output, error) = await RunAsync("keys", "rotate", "--data", _data, "--json");
        Assert.True(exit == 0, error);
        using var rows = JsonDocument.Parse(output);
        var keys = rows.RootElement.EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        Assert.All(keys, k => Assert.Equal("ES384", k.GetProperty("alg").GetString()));
        var pending = keys.Single(k => k.GetProperty("state").GetString() == "pending");
        var active = keys.Single(k => k.GetProperty("state").GetString() == "active");
        Assert.Equal(TimeSpan.FromHours(2), pending.GetProperty("activates_at").GetDateTimeOffset() - pending.GetProperty("created_at").GetDateTimeOffset());

        // Five-minute loops: two hours of fake time are then a few rounds, not thousands.
        await using var server = await RunningServer.StartAsync(null, _data,
            "--Safeguard:ClientRefreshInterval=00:05:00", "--Safeguard:RevocationSyncInterval=00:05:00", "--Safeguard:KeyMaintenanceInterval=00:05:00");
        var secret = await server.AddClientAsync("composed");
        using var http = server.CreateClient();
        var jwks = await http.GetStringAsync("/jwks");
        Assert.Contains(pending.GetProperty("kid").GetString()!, jwks, StringComparison.Ordinal);
        Assert.Equal(active.GetProperty("kid").GetString(), await SigningKeyOfAsync(http, server, secret!));

        // Two hours on, the published key signs; the server made no key of its own.
        server.Time.Advance(TimeSpan.FromHours(2) + TimeSpan.FromSeconds(1));
        await server.MaintainKeysAsync();

        Assert.Equal(pending.GetProperty("kid").GetString(), await SigningKeyOfAsync(http, server, secret!));
        Assert.Equal(SigningAlgorithms.ES384, server.Services.GetRequiredService<SigningKeyRing>().GetSigningKey()!.Algorithm);
        Assert.Equal(2, server.Services.GetRequiredService<SigningKeyRing>().Keys.Count);
    }

    [Fact]
    public async Task TheKeyEncryptionKey_IsDisposedWithTheServer()
    {
        AesGcmKeyProtector protector;
        await using (var server = await RunningServer.StartAsync(dataPath: _data))
        {
            protector = server.Services.GetRequiredService<AesGcmKeyProtector>();
            Assert.False(protector.IsDisposed);
        }

        Assert.True(protector.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => protector.DeriveKey("after shutdown", 32));
    }

    private static async Task<string?> SigningKeyOfAsync(HttpClient http, RunningServer server, string secret)
    {
        var token = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "composed", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);
        return Jws.Header(token.AccessToken!).GetProperty("kid").GetString();
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }
}
