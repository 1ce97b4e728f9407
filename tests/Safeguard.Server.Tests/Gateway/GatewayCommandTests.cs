using Safeguard.Cli;

namespace Safeguard.Server.Tests.Gateway;

/// <summary><c>safeguard gateway --config FILE</c>: runs the gateway from a file, and stops at once on a bad one, saying every problem.</summary>
public sealed class GatewayCommandTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "sg-gwcli-" + Guid.NewGuid().ToString("N"));

    public GatewayCommandTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AValidFile_RunsTheGatewayOverTls_UntilStopped()
    {
        var config = Path.Combine(_folder, "gateway.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "Gateway": {
                "Listen": [ "https://127.0.0.1:0" ],
                "DataPath": "{{Path.Combine(_folder, "data")}}",
                "Authority": "https://127.0.0.1:9",
                "Audience": "https://fhir.example.org",
                "Routes": { "fhir": { "Path": "/fhir/{**rest}", "Cluster": "ehr", "Scopes": [ "patient.read" ], "Fhir": true, "FhirBase": "/fhir" } },
                "Clusters": { "ehr": { "Destinations": [ "http://127.0.0.1:9" ] } }
              }
            }
            """);
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var stop = new CancellationTokenSource();

        var run = SafeguardCommand.InvokeAsync(["gateway", "--config", config], output, error, stop.Token);
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (!output.ToString().Contains("TLS certificate SHA-256", StringComparison.Ordinal) && !run.IsCompleted && TimeProvider.System.GetUtcNow() < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Contains("Safeguard gateway listening on https://127.0.0.1:", output.ToString(), StringComparison.Ordinal);
        await stop.CancelAsync();
        Assert.Equal(0, await run);
        Assert.True(File.Exists(Path.Combine(_folder, "data", "audit.db")));
    }

    [Fact]
    public async Task ABadFile_ExitsWith2_ListingEveryProblem()
    {
        var config = Path.Combine(_folder, "gateway.json");
        await File.WriteAllTextAsync(config, """{ "Gateway": { "Listen": [ "http://0.0.0.0:80" ], "Routes": { "r": { "Path": "/x" } } } }""");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = await SafeguardCommand.InvokeAsync(["gateway", "--config", config], output, error, CancellationToken.None);

        Assert.Equal(2, code);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("Gateway:Listen", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Gateway:Authority", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Gateway:Routes:r:Cluster", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Gateway:Clusters", StringComparison.Ordinal));
        Assert.True(lines.Length >= 6, error.ToString());
    }
}
