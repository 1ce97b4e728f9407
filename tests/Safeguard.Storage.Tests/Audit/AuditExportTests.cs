using Hl7.Fhir.Serialization;
using Hl7.Fhir.Validation;
using Safeguard.Audit;
using R4 = Hl7.Fhir.Model;

namespace Safeguard.Storage.Tests.Audit;

public sealed class AuditExportTests
{
    [Fact]
    public async Task Jsonl_RoundTripsAndReverifiesWithoutTheDatabase()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(60);
        await trail.Writer.StopAsync();
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        using var export = new StringWriter();

        var written = await AuditExport.ExportAsync(trail.Store, export, AuditExportFormat.Jsonl, null, CancellationToken.None);
        var report = await AuditJsonlVerifier.VerifyAsync(new StringReader(export.ToString()), trail.Keys.Trusted, CancellationToken.None);

        Assert.True(written > 60);
        var chain = Assert.Single(report.Chains);
        Assert.True(chain.IsIntact, string.Join("; ", chain.Problems.Select(p => p.Detail)));
        Assert.Equal(written, chain.Events);
        Assert.True(chain.CheckpointsVerified >= 5);
    }

    [Theory]
    [InlineData("an edited event")]
    [InlineData("a dropped line")]
    [InlineData("a forged checkpoint")]
    [InlineData("event lines cut, checkpoint lines kept")]
    public async Task Jsonl_ReverificationCatchesTamperingWithTheExport(string tampering)
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(40);
        await trail.Writer.StopAsync();
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        using var export = new StringWriter();
        await AuditExport.ExportAsync(trail.Store, export, AuditExportFormat.Jsonl, null, CancellationToken.None);
        var lines = export.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var target = lines.FindIndex(l => l.Contains("\"seq\":20,", StringComparison.Ordinal));
        switch (tampering)
        {
            case "an edited event":
                lines[target] = lines[target].Replace("\"outcome\":\"", "\"outcome\":\"x", StringComparison.Ordinal);
                break;
            case "a dropped line":
                lines.RemoveAt(target);
                break;
            case "event lines cut, checkpoint lines kept":
                lines = [.. lines.Take(target), .. lines.Skip(target).Where(l => l.Contains("\"checkpoint\":", StringComparison.Ordinal))];
                break;
            default:
                var checkpoint = lines.FindIndex(l => l.Contains("\"checkpoint\":", StringComparison.Ordinal));
                var jws = lines[checkpoint].Split("\"jws\":\"")[1].TrimEnd('}', '"');
                var parts = jws.Split('.');
                lines[checkpoint] = lines[checkpoint].Replace(jws, parts[0] + "." + parts[1] + "." + new string('A', parts[2].Length), StringComparison.Ordinal);
                break;
        }

        var report = await AuditJsonlVerifier.VerifyAsync(new StringReader(string.Join('\n', lines)), trail.Keys.Trusted, CancellationToken.None);

        Assert.False(report.IsIntact);
    }

    [Fact]
    public async Task Fhir_ExportsValidR4AuditEvents()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(1), CancellationToken.None);
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(3) with { Emergency = true, PurposeOfUse = "ETREAT", Reason = "SG4003" }, CancellationToken.None);
        await trail.Writer.AppendAsync(new AuditEvent
        {
            EventId = AuditEventIds.New(DateTimeOffset.UnixEpoch.AddYears(56)),
            Time = DateTimeOffset.UnixEpoch.AddYears(56),
            Type = AuditEventType.LoginFailed,
            Outcome = AuditOutcome.Denied,
            Subject = "user-9",
            SourceIp = "192.0.2.7",
            UserAgent = "Mozilla/5.0",
            Reason = "SG3001",
        }, CancellationToken.None);
        await trail.Writer.StopAsync();
        using var export = new StringWriter();

        await AuditExport.ExportAsync(trail.Store, export, AuditExportFormat.Fhir, null, CancellationToken.None);

        // Strict deserialization rejects unknown elements and wrong types; Validate checks cardinality and the
        // R4 AuditEvent invariants (type, recorded, agent.requestor, source.observer required).
        var deserializer = new FhirJsonDeserializer(new DeserializerSettings().UsingMode(DeserializationMode.Strict));
        var resources = export.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => deserializer.Deserialize<R4.AuditEvent>(line))
            .ToList();
        Assert.Equal(4, resources.Count);
        foreach (var resource in resources)
        {
            var issues = resource.Validate(R4.ModelInfo.ModelInspector, NarrativeValidationKind.None, null, true);
            Assert.Empty(issues);
            Assert.NotNull(resource.Type);
            Assert.NotEmpty(resource.Agent);
            Assert.NotNull(resource.Source?.Observer);
        }

        var phi = resources[0];
        Assert.Equal("110110", phi.Type.Code);
        Assert.Equal(R4.AuditEvent.AuditEventAction.R, phi.Action);
        Assert.Contains(phi.Entity, e => e.What?.Reference == "Patient/patient-1");
        var breakGlass = resources[1];
        Assert.Contains(breakGlass.PurposeOfEvent.SelectMany(p => p.Coding), c => c.Code == "BTG");
        Assert.Equal(R4.AuditEvent.AuditEventOutcome.N4, breakGlass.Outcome);
        Assert.Equal("110114", resources[2].Type.Code);
    }

    [Fact]
    public async Task Cef_WritesOneEscapedLinePerEvent()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        await trail.Writer.AppendAsync(AuditTrailFixture.Event(1) with { UserAgent = "agent=with|pipes\\and\nnewline" }, CancellationToken.None);
        await trail.Writer.StopAsync();
        using var export = new StringWriter();

        await AuditExport.ExportAsync(trail.Store, export, AuditExportFormat.Cef, new AuditFilter { Type = AuditEventType.PhiAccessAllowed }, CancellationToken.None);

        var line = Assert.Single(export.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("CEF:0|Safeguard|Safeguard|1.0|phi.access_allowed|phi access allowed|3|", line, StringComparison.Ordinal);
        Assert.Contains("requestClientApplication=agent\\=with|pipes\\\\and\\nnewline", line, StringComparison.Ordinal);
        Assert.Contains("cs1Label=chain cs1=node-a cn1Label=seq cn1=1", line, StringComparison.Ordinal);
        Assert.Contains("suser=user-1", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Search_FiltersBySubjectPatientTypeAndOutcome()
    {
        await using var trail = await AuditTrailFixture.StartAsync(checkpointEvery: 1000);
        await trail.AppendAsync(70);
        await trail.Writer.StopAsync();
        using var found = new StringWriter();

        var count = await AuditExport.ExportAsync(trail.Store, found, AuditExportFormat.Jsonl,
            new AuditFilter { Subject = "user-3", Outcome = AuditOutcome.Denied, Type = AuditEventType.PhiAccessDenied }, CancellationToken.None);

        // Events i with i % 7 == 3 and i % 3 == 0: 3, 24, 45, 66.
        Assert.Equal(4, count);
        Assert.All(found.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1),
            l => Assert.Contains("\"sub\":\"user-3\"", l, StringComparison.Ordinal));
    }
}

public sealed class AuditArchiveAndWebhookTests
{
    [Fact]
    public async Task Archive_VerifiesWithoutTheDatabaseAndCatchesAnEditedFile()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(50);
        await trail.Writer.StopAsync();
        var archive = Path.Combine(trail.Directory, "archive");

        // Events 1..n have times epoch+56y+i s: archive those before +30 s.
        var archived = await AuditArchive.CreateAsync(trail.Store, trail.Keys.Current!, DateTimeOffset.UnixEpoch.AddYears(56).AddSeconds(30), archive, DateTimeOffset.UnixEpoch.AddYears(56), CancellationToken.None);
        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        var (problems, report) = await AuditArchive.VerifyAsync(archive, trail.Keys.Trusted, CancellationToken.None);

        Assert.True(archived >= 29);
        Assert.Empty(problems);
        Assert.Equal(archived, report.Chains.Sum(c => c.Events));
        Assert.True((await trail.VerifyAsync()).IsIntact, "Archiving must leave the trail untouched.");

        var file = Path.Combine(archive, AuditTrailFixture.Chain + ".jsonl");
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"jti-3\"", "\"jti-X\"", StringComparison.Ordinal));
        var (tampered, _) = await AuditArchive.VerifyAsync(archive, trail.Keys.Trusted, CancellationToken.None);
        Assert.Contains(tampered, p => p.Contains("SHA-256", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Webhook_ReceivesEachCheckpoint()
    {
        using var listener = new System.Net.HttpListener();
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var prefix = $"http://127.0.0.1:{port}/checkpoints/";
        listener.Prefixes.Add(prefix);
        listener.Start();
        var received = new List<string>();
        var receiving = Task.Run(async () =>
        {
            while (received.Count < 1)
            {
                var context = await listener.GetContextAsync();
                using var reader = new StreamReader(context.Request.InputStream);
                received.Add(await reader.ReadToEndAsync());
                context.Response.StatusCode = 204;
                context.Response.Close();
            }
        });
        using var client = new HttpClient();
        var sink = new WebhookCheckpointSink(client, new Uri(prefix));
        await using var trail = await AuditTrailFixture.StartAsync();
        var checkpoint = AuditCheckpoints.Sign(trail.Keys.Current!, "node-w", 10, new byte[32], 1, new byte[32], DateTimeOffset.UnixEpoch);

        await sink.WriteAsync(checkpoint, CancellationToken.None);
        await receiving.WaitAsync(TimeSpan.FromSeconds(10));

        using var body = System.Text.Json.JsonDocument.Parse(Assert.Single(received));
        Assert.Equal("node-w", body.RootElement.GetProperty("chain").GetString());
        Assert.Equal(10, body.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal(checkpoint.Jws, body.RootElement.GetProperty("jws").GetString());
    }

    [Theory]
    [InlineData("http://siem.example.org/checkpoints")]
    [InlineData("ftp://siem.example.org/checkpoints")]
    public void Webhook_RefusesPlainHttpBeyondLoopback(string url)
    {
        using var client = new HttpClient();

        Assert.Throws<ArgumentException>(() => new WebhookCheckpointSink(client, new Uri(url)));
    }
}
