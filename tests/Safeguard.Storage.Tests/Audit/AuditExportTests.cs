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
