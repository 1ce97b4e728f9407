using System.Diagnostics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Safeguard.Benchmarks;
using Safeguard.Hosting;

namespace Safeguard.Cli.Tests;

public sealed class AuditCommandTests : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("safeguard-cli-audit-");

    [Fact]
    public async Task Verify_OnAnUntouchedTrail_ExitsZero()
    {
        var generated = await SyntheticAudit.GenerateAsync(_data.FullName, 500, 64, "node-t", null, CancellationToken.None);

        var (exit, output, _) = await RunAsync("audit", "verify", "--data", _data.FullName);

        Assert.Equal(500, generated);
        Assert.Equal(0, exit);
        Assert.Contains("Audit trail intact", output, StringComparison.Ordinal);
        Assert.Contains("chain node-t: 501 events", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The product's command line cannot write synthetic events (the generator lives with the benchmarks); those it
    /// writes go to a chain of their own, every one marked synthetic, and never into a chain a server holds.
    /// </summary>
    [Fact]
    public async Task SyntheticEvents_AreNotTheProductsToWrite_AndKeepToAChainOfTheirOwn()
    {
        var (exit, _, error) = await RunAsync("audit", "generate", _data.FullName, "10");
        Assert.NotEqual(0, exit);
        Assert.Contains("generate", error, StringComparison.Ordinal);

        Assert.Equal(50, await SyntheticAudit.GenerateAsync(_data.FullName, 50, 4, null, null, CancellationToken.None));
        var folder = SafeguardDataFolder.At(_data.FullName);
        using var store = new Safeguard.Storage.Audit.SqliteAuditStore(folder.AuditDatabase);
        Assert.Equal([SyntheticAudit.DefaultChain], await store.GetChainsAsync(CancellationToken.None));
        await foreach (var record in store.ReadChainAsync(SyntheticAudit.DefaultChain, 1, CancellationToken.None))
        {
            Assert.True(Safeguard.Audit.AuditEventParser.TryParse(record.Body, out var parsed));
            Assert.True(parsed.Type == Safeguard.Audit.AuditEventType.AuditCheckpoint || parsed.NodeId == "synthetic", $"event {record.Sequence} is not marked synthetic");
        }

        // A chain a server is writing is leased: the generator cannot take it.
        await using (await store.AcquireChainAsync("live-node", CancellationToken.None))
        {
            await Assert.ThrowsAsync<Safeguard.Audit.AuditChainInUseException>(() => SyntheticAudit.GenerateAsync(_data.FullName, 5, 1, "live-node", null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Verify_OnATamperedTrail_NamesTheSequenceAndExitsNonZero()
    {
        await SyntheticAudit.GenerateAsync(_data.FullName, 300, 64, "node-t", null, CancellationToken.None);
        Tamper("UPDATE audit_events SET body = replace(body, 'TREAT', 'ETREAT') WHERE seq = 123");

        var (exit, output, _) = await RunAsync("audit", "verify", "--data", _data.FullName);
        var (jsonExit, json, _) = await RunAsync("audit", "verify", "--data", _data.FullName, "--json");

        Assert.Equal(1, exit);
        Assert.Contains("BROKEN at 123", output, StringComparison.Ordinal);
        Assert.Contains("modified at 123", output, StringComparison.Ordinal);
        Assert.Equal(1, jsonExit);
        using var report = JsonDocument.Parse(json);
        var problem = report.RootElement.GetProperty("chains")[0].GetProperty("problems")[0];
        Assert.Equal("Modified", problem.GetProperty("kind").GetString());
        Assert.Equal(123, problem.GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task ExportThenVerifyJsonl_ReverifiesWithoutTheDatabase()
    {
        await SyntheticAudit.GenerateAsync(_data.FullName, 200, 64, "node-t", null, CancellationToken.None);
        var file = Path.Combine(_data.FullName, "export.jsonl");

        var (exportExit, _, exportError) = await RunAsync("audit", "export", "--data", _data.FullName, "--format", "jsonl", "--out", file);
        var (verifyExit, verifyOutput, _) = await RunAsync("audit", "verify", "--data", _data.FullName, "--jsonl", file);
        File.WriteAllLines(file, File.ReadAllLines(file).Where(l => !l.Contains("\"seq\":77,", StringComparison.Ordinal)));
        var (brokenExit, brokenOutput, _) = await RunAsync("audit", "verify", "--data", _data.FullName, "--jsonl", file);

        Assert.Equal(0, exportExit);
        Assert.Contains("201 events exported as jsonl", exportError, StringComparison.Ordinal);
        Assert.Equal(0, verifyExit);
        Assert.Contains("Audit trail intact", verifyOutput, StringComparison.Ordinal);
        Assert.Equal(1, brokenExit);
        Assert.Contains("missing at 77", brokenOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProveThenVerifyProof_HoldsAndFailsWhenTheEventIsEdited()
    {
        await SyntheticAudit.GenerateAsync(_data.FullName, 100, 64, "node-t", null, CancellationToken.None);
        var (_, found, _) = await RunAsync("audit", "search", "--data", _data.FullName, "--format", "jsonl");
        var eventId = found.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("seq", out var seq) && seq.GetInt64() == 42)
            .Select(e => e.GetProperty("event").GetProperty("event_id").GetString())
            .Single()!;
        var proofFile = Path.Combine(_data.FullName, "proof.json");

        var (proveExit, _, _) = await RunAsync("audit", "prove", eventId, "--data", _data.FullName, "--out", proofFile);
        var (holdsExit, holdsOutput, _) = await RunAsync("audit", "verify-proof", proofFile, "--data", _data.FullName);
        File.WriteAllText(proofFile, File.ReadAllText(proofFile).Replace("\"http_status\":200", "\"http_status\":403", StringComparison.Ordinal));
        var (failsExit, _, failsError) = await RunAsync("audit", "verify-proof", proofFile, "--data", _data.FullName);

        Assert.Equal(0, proveExit);
        Assert.Equal(0, holdsExit);
        Assert.Contains("Proof holds: Event 42 of chain node-t", holdsOutput, StringComparison.Ordinal);
        Assert.Equal(1, failsExit);
        Assert.Contains("PROOF FAILS", failsError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("export", "--format", "xml")]
    [InlineData("search", "--outcome", "maybe")]
    [InlineData("search", "--type", "phi.read")]
    [InlineData("export", "--since", "yesterday-ish")]
    public async Task ExportAndSearch_ExplainBadInput(string command, string option, string value)
    {
        await SyntheticAudit.GenerateAsync(_data.FullName, 5, 64, "node-t", null, CancellationToken.None);

        var (exit, _, error) = await RunAsync("audit", command, "--data", _data.FullName, option, value);

        Assert.Equal(2, exit);
        Assert.Contains(value, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WithoutATrail_ExplainsAndExitsWithBadInput()
    {
        var (exit, _, error) = await RunAsync("audit", "verify", "--data", Path.Combine(_data.FullName, "nothing-here"));

        Assert.Equal(2, exit);
        Assert.Contains("No audit trail", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_KilledWhileAppending_LosesNoAcknowledgedEvent()
    {
        // A child process appends as fast as it can and prints each event once it is durable; it is killed
        // with SIGKILL mid-stream. Every acknowledged event must be in the trail, and the trail must verify.
        var generator = typeof(SyntheticAudit).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { generator, "generate", _data.FullName, "5000000", "64", "node-k", "--ack" })
        {
            start.ArgumentList.Add(argument);
        }

        var acknowledged = new List<(long Sequence, string EventId)>();
        using (var child = Process.Start(start)!)
        {
            child.ErrorDataReceived += (_, _) => { };
            child.BeginErrorReadLine();
            string? line;
            var deadline = Stopwatch.StartNew();
            while ((line = await child.StandardOutput.ReadLineAsync()) is not null)
            {
                var parts = line.Split(' ');
                if (parts.Length == 3 && parts[0] == "ack")
                {
                    acknowledged.Add((long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2]));
                }

                if (acknowledged.Count == 20_000 || deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    child.Kill(entireProcessTree: true);
                    break;
                }
            }

            // Acknowledgements already written to the pipe before the kill count too.
            while ((line = await child.StandardOutput.ReadLineAsync()) is not null)
            {
                var parts = line.Split(' ');
                if (parts.Length == 3 && parts[0] == "ack")
                {
                    acknowledged.Add((long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), parts[2]));
                }
            }

            await child.WaitForExitAsync();
            Assert.NotEqual(0, child.ExitCode);
        }

        Assert.True(acknowledged.Count >= 1000, $"Only {acknowledged.Count} events were acknowledged before the kill.");
        var stored = StoredEventIds("node-k");
        Assert.All(acknowledged, a => Assert.True(stored.TryGetValue(a.EventId, out var seq) && seq == a.Sequence, $"Acknowledged event {a.Sequence} {a.EventId} is missing."));

        var (exit, output, _) = await RunAsync("audit", "verify", "--data", _data.FullName);
        Assert.True(exit == 0, output);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _data.Delete(recursive: true);
    }

    private Dictionary<string, long> StoredEventIds(string chain)
    {
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        using var connection = new SqliteConnection($"Data Source={SafeguardDataFolder.At(_data.FullName).AuditDatabase};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, body FROM audit_events WHERE chain = $c";
        command.Parameters.AddWithValue("$c", chain);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            using var body = JsonDocument.Parse(reader.GetFieldValue<byte[]>(1));
            ids[body.RootElement.GetProperty("event_id").GetString()!] = reader.GetInt64(0);
        }

        return ids;
    }

    private void Tamper(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={SafeguardDataFolder.At(_data.FullName).AuditDatabase};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DROP TRIGGER audit_events_append_only_update; " + sql;
        command.ExecuteNonQuery();
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }
}
