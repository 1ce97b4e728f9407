using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Safeguard.Audit;
using Safeguard.Cli;
using Safeguard.Hosting;

namespace Safeguard.Server.Tests;

/// <summary>Checkpoints copied outside the host: another directory, a webhook, and a warning when only the data folder holds them.</summary>
public sealed class CheckpointAnchoringTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("sg-anchor-").FullName;

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public async Task Checkpoints_GoToTheConfiguredDirectoryAndWebhook_AndVerifyReadsThem()
    {
        var data = Path.Combine(_parent, "data");
        var elsewhere = Path.Combine(_parent, "worm-mount");
        using var webhook = new CheckpointReceiver();
        var logs = new CapturedLogs();
        string[] settings = [$"--Safeguard:Audit:CheckpointDirectory={elsewhere}", $"--Safeguard:Audit:CheckpointWebhook={webhook.Url}"];
        await using (var server = await RunningServer.StartWithAsync(services => services.AddSingleton<ILoggerProvider>(logs), data, settings))
        {
            await server.AddClientAsync("anchored");
            await server.Services.GetRequiredServiceOf<AuditWriter>().StopAsync();
        }

        var line = Assert.Single(Directory.GetFiles(elsewhere, "*.checkpoints.jsonl").SelectMany(File.ReadAllLines));
        var received = await webhook.FirstAsync();
        Assert.Equal(JsonDocument.Parse(line).RootElement.GetProperty("jws").GetString(), received.GetProperty("jws").GetString());
        Assert.False(Directory.Exists(SafeguardDataFolder.At(data).AuditCheckpoints) && Directory.EnumerateFiles(SafeguardDataFolder.At(data).AuditCheckpoints).Any());
        Assert.DoesNotContain(logs.Entries, e => e.EventId == LogEvents.AuditCheckpointsOnlyInDataFolder);

        // The CLI reads the checkpoints where the configuration puts them: a forged line there fails the verify; the
        // same verify without the setting (the data folder's empty copy) does not see it.
        Assert.Equal(0, await SafeguardCommand.InvokeAsync(["audit", "verify", "--data", data, .. settings], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        var file = Directory.GetFiles(elsewhere, "*.checkpoints.jsonl").Single();
        var forged = JsonDocument.Parse(line).RootElement;
        File.AppendAllText(file, JsonSerializer.Serialize(new { chain = forged.GetProperty("chain").GetString(), seq = 999, head = forged.GetProperty("head").GetString(), jws = forged.GetProperty("jws").GetString()![..^8] + "AAAAAAAA" }) + "\n");
        Assert.Equal(1, await SafeguardCommand.InvokeAsync(["audit", "verify", "--data", data, .. settings], TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Equal(0, await SafeguardCommand.InvokeAsync(["audit", "verify", "--data", data], TextWriter.Null, TextWriter.Null, CancellationToken.None));
    }

    [Fact]
    public async Task OnlyTheDataFolder_IsWarnedAboutAtStart()
    {
        var logs = new CapturedLogs();
        await using var server = await RunningServer.StartWithAsync(services => services.AddSingleton<ILoggerProvider>(logs), null);

        var warning = Assert.Single(logs.Entries, e => e.EventId == LogEvents.AuditCheckpointsOnlyInDataFolder);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("Safeguard:Audit:CheckpointDirectory", warning.Message, StringComparison.Ordinal);
        Assert.Contains(SafeguardDataFolder.At(server.DataPath).AuditCheckpoints, warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("audit-checkpoints", false, true)]
    [InlineData("sub/dir", false, true)]
    [InlineData("../data-elsewhere", false, false)]
    [InlineData("/mnt/worm", false, false)]
    [InlineData(null, true, true)]
    public void TheCopiesLeaveTheDataFolder_ThroughAnotherDirectoryOrAWebhook(string? directory, bool webhook, bool inside)
    {
        var folder = SafeguardDataFolder.At(Path.Combine(_parent, "data"));
        var options = new AuditOptions
        {
            CheckpointDirectory = directory is null ? null : Path.IsPathRooted(directory) ? directory : Path.Combine(folder.Root, directory),
            CheckpointWebhook = webhook ? "https://notary.example.org/checkpoints" : null,
        };

        var destinations = CheckpointDestinations.Of(options, folder);

        Assert.Equal(inside, destinations.DirectoryInDataFolder);
        Assert.Equal(!inside || webhook, destinations.LeaveTheDataFolder);
    }

    [Fact]
    public void CheckpointFilesWrittenBeforeTheNamesWereLowerCase_AreStillRead()
    {
        var directory = Path.Combine(_parent, "old");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "node.checkpoints.jsonl"), "{\"Chain\":\"node\",\"Seq\":7,\"Head\":\"00ff\",\"Jws\":\"a.b.c\"}\n{\"chain\":\"node\",\"seq\":8,\"head\":\"ff00\",\"jws\":\"d.e.f\"}\n");

        var read = DirectoryCheckpointSink.ReadAll(directory);

        Assert.Equal([7L, 8L], read.Select(c => c.Sequence));
        Assert.Equal(["a.b.c", "d.e.f"], read.Select(c => c.Jws));
    }

    [Theory]
    [InlineData("http://siem.example.org/checkpoints")]
    [InlineData("https://user:pass@siem.example.org/checkpoints")]
    [InlineData("/relative/path")]
    public void AWebhookThatIsNotHttpsOrCarriesCredentials_IsRefusedAtStart(string webhook)
    {
        var result = new AuditOptionsValidator().Validate(null, new AuditOptions { CheckpointWebhook = webhook });

        Assert.Contains(result.Failures!, f => f.Contains("Safeguard:Audit:CheckpointWebhook", StringComparison.Ordinal));
    }

    /// <summary>A webhook on loopback that records what it receives.</summary>
    private sealed class CheckpointReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly TaskCompletionSource<JsonElement> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CheckpointReceiver()
        {
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/checkpoints/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public Task<JsonElement> FirstAsync() => _first.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            try
            {
                while (_listener.IsListening)
                {
                    var context = await _listener.GetContextAsync();
                    using (var reader = new StreamReader(context.Request.InputStream))
                    {
                        _first.TrySetResult(JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.Clone());
                    }

                    context.Response.StatusCode = 204;
                    context.Response.Close();
                }
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                // Closed.
            }
        }

        private static int FreePort()
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return ((IPEndPoint)socket.LocalEndPoint!).Port;
        }
    }

    /// <summary>Every log entry, with its event id.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
        }
    }
}
