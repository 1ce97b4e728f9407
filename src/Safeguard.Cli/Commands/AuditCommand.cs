using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Storage.Audit;

namespace Safeguard.Cli.Commands;

/// <summary><c>safeguard audit</c>: verify, export and search the tamper-evident audit trail.</summary>
internal static class AuditCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var audit = new Command("audit", "The tamper-evident audit trail: verify, export, search, prove.");
        audit.Subcommands.Add(Verify(output, error));
        audit.Subcommands.Add(Export(output, error));
        audit.Subcommands.Add(Search(output, error));
        audit.Subcommands.Add(Prove(output, error));
        audit.Subcommands.Add(VerifyProof(output, error));
        audit.Subcommands.Add(Archive(output, error));
        audit.Subcommands.Add(VerifyArchive(output, error));
        audit.Subcommands.Add(Generate(output, error));
        return audit;
    }

    internal static Option<string> DataOption() => new("--data")
    {
        Description = "The data folder (audit database audit.db, audit keys, exported checkpoints).",
        DefaultValueFactory = _ => "./data",
    };

    private static Command Verify(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var checkpoints = new Option<string?>("--checkpoints") { Description = "The directory checkpoints were exported to (default: DATA/audit-checkpoints)." };
        var json = new Option<bool>("--json") { Description = "Write the report as JSON." };
        var jsonl = new Option<string?>("--jsonl") { Description = "Verify a JSON Lines export file instead of the database (the audit keys still come from DATA)." };
        var command = new Command("verify", "Check every link of every chain, every checkpoint signature, and the exported checkpoints. Exit 0 only if intact.");
        var database = CliStore.DatabaseOption();
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(checkpoints);
        command.Options.Add(json);
        command.Options.Add(jsonl);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = parse.GetValue(data)!;
            if (parse.GetValue(jsonl) is { } exportFile)
            {
                return await VerifyExportAsync(folder, exportFile, parse.GetValue(json), output, error, cancellationToken).ConfigureAwait(false);
            }

            var store = await OpenTrailAsync(folder, parse.GetValue(database), error).ConfigureAwait(false);
            if (store is null)
            {
                return ExitCodes.BadInput;
            }

            using var lifetime = (IDisposable)store;
            using var dataFolder = DataFolder.Open(folder);
            var keys = dataFolder.AuditKeys();
            await keys.LoadAsync(createIfMissing: false, cancellationToken).ConfigureAwait(false);
            if (keys.Trusted.Count == 0)
            {
                await error.WriteLineAsync($"No audit key in '{dataFolder.AuditKeysPath}': checkpoints cannot be verified.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var exported = DirectoryCheckpointSink.ReadAll(parse.GetValue(checkpoints) ?? dataFolder.CheckpointsPath);
            var verifier = new AuditVerifier(store, keys.Trusted, exported);
            TerminalProgress? progress = null;
            if (!parse.GetValue(json) && ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected)
            {
                long total = 0;
                foreach (var chain in await store.GetChainsAsync(cancellationToken).ConfigureAwait(false))
                {
                    total += await store.CountAsync(chain, cancellationToken).ConfigureAwait(false);
                }

                progress = new TerminalProgress(error, total);
            }

            var watch = Stopwatch.StartNew();
            var report = await verifier.VerifyAsync(progress, cancellationToken).ConfigureAwait(false);
            watch.Stop();
            progress?.Done();

            await WriteReportAsync(output, report, parse.GetValue(json), watch.Elapsed).ConfigureAwait(false);
            return report.IsIntact ? ExitCodes.Success : ExitCodes.Failed;
        });
        return command;
    }

    /// <summary>
    /// The trail to read: PostgreSQL when <c>--database</c> (or <c>Safeguard__Database__...</c>) names it, else the
    /// data folder's <c>audit.db</c>. Null (with the reason written) when there is none. Dispose the store.
    /// </summary>
    private static async Task<IAuditStore?> OpenTrailAsync(string folder, string? database, TextWriter error)
    {
        Storage.Data.DatabaseOptions options;
        try
        {
            options = CliStore.DatabaseOptionsFrom(database);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            await error.WriteLineAsync(string.Join(Environment.NewLine, ex.Failures)).ConfigureAwait(false);
            return null;
        }

        if (options.Provider == Storage.Data.DatabaseProvider.PostgreSql)
        {
            try
            {
                return new PostgresAuditStore(options.ConnectionString!);
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync("--database: " + ex.Message).ConfigureAwait(false);
                return null;
            }
        }

        return await HasTrailAsync(folder, error).ConfigureAwait(false)
            ? new SqliteAuditStore(Path.Combine(folder, Storage.Data.SafeguardDatabase.SqliteAuditFileName))
            : null;
    }

    private static async Task<bool> HasTrailAsync(string folder, TextWriter error)
    {
        if (File.Exists(Path.Combine(folder, Storage.Data.SafeguardDatabase.SqliteAuditFileName)))
        {
            return true;
        }

        await error.WriteLineAsync($"No audit trail in '{folder}' (audit.db not found).").ConfigureAwait(false);
        return false;
    }

    private static async Task<int> VerifyExportAsync(string folder, string exportFile, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!File.Exists(exportFile))
        {
            await error.WriteLineAsync($"The export file '{exportFile}' does not exist.").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        using var dataFolder = DataFolder.Open(folder);
        var keys = dataFolder.AuditKeys();
        await keys.LoadAsync(createIfMissing: false, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(exportFile);
        var watch = Stopwatch.StartNew();
        var report = await AuditJsonlVerifier.VerifyAsync(reader, keys.Trusted, cancellationToken).ConfigureAwait(false);
        await WriteReportAsync(output, report, json, watch.Elapsed).ConfigureAwait(false);
        return report.IsIntact ? ExitCodes.Success : ExitCodes.Failed;
    }

    private static async Task WriteReportAsync(TextWriter output, AuditVerificationReport report, bool json, TimeSpan elapsed)
    {
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(report, AuditJsonContext.Default.AuditVerificationReport)).ConfigureAwait(false);
            return;
        }

        foreach (var chain in report.Chains)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"chain {chain.Chain}: {chain.Events} events, {chain.CheckpointsVerified} checkpoints verified: {(chain.IsIntact ? "intact" : $"BROKEN at {chain.Problems[0].Sequence}")}")).ConfigureAwait(false);
            foreach (var problem in chain.Problems)
            {
                await output.WriteLineAsync($"  {problem.Kind.ToString().ToLowerInvariant()} at {problem.Sequence}: {problem.Detail}").ConfigureAwait(false);
            }
        }

        var events = report.Chains.Sum(c => c.Events);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{(report.IsIntact ? "Audit trail intact" : "AUDIT TRAIL TAMPERED")}: {events} events in {report.Chains.Count} chain(s), checked in {elapsed.TotalSeconds:0.00} s.")).ConfigureAwait(false);
    }

    private static Command Export(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var format = new Option<string>("--format") { Description = "jsonl (re-verifiable), fhir (R4 AuditEvent NDJSON) or cef (SIEM).", DefaultValueFactory = _ => "jsonl" };
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (ISO 8601, UTC if no offset)." };
        var until = new Option<string?>("--until") { Description = "Only events before this time." };
        var outFile = new Option<string?>("--out") { Description = "Write to this file instead of standard output." };
        var command = new Command("export", "Export the trail as JSON Lines with hashes, FHIR R4 AuditEvent resources, or CEF lines.");
        var database = CliStore.DatabaseOption();
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(format);
        command.Options.Add(since);
        command.Options.Add(until);
        command.Options.Add(outFile);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var formatName = parse.GetValue(format)!;
            var (filter, filterError) = ParseFilter(parse.GetValue(since), parse.GetValue(until), null, null, null, null);
            return await WriteEventsAsync(
                parse.GetValue(data)!, parse.GetValue(database), formatName, filter, filterError, parse.GetValue(outFile), output, error,
                written => $"{written} events exported as {formatName}.", cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Search(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var subject = new Option<string?>("--subject") { Description = "Only this subject (sub)." };
        var patient = new Option<string?>("--patient") { Description = "Only this patient id." };
        var type = new Option<string?>("--type") { Description = "Only this event type, for example phi.access_denied." };
        var outcome = new Option<string?>("--outcome") { Description = "success, denied or error." };
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (ISO 8601)." };
        var until = new Option<string?>("--until") { Description = "Only events before this time." };
        var format = new Option<string>("--format") { Description = "jsonl (default), fhir or cef.", DefaultValueFactory = _ => "jsonl" };
        var command = new Command("search", "Find events for an auditor: by subject, patient, type, outcome and time range.");
        var database = CliStore.DatabaseOption();
        foreach (var option in new Option[] { data, database, subject, patient, type, outcome, since, until, format })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var (filter, filterError) = ParseFilter(parse.GetValue(since), parse.GetValue(until), parse.GetValue(subject), parse.GetValue(patient), parse.GetValue(type), parse.GetValue(outcome));
            return await WriteEventsAsync(
                parse.GetValue(data)!, parse.GetValue(database), parse.GetValue(format)!, filter, filterError, null, output, error,
                found => $"{found} matching events. Run 'safeguard audit verify' to confirm the trail they come from is intact.", cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>What export and search share: check the input, then write the matching events in the chosen format.</summary>
    private static async Task<int> WriteEventsAsync(
        string folder, string? database, string formatName, AuditFilter? filter, string? filterError, string? outFile,
        TextWriter output, TextWriter error, Func<long, string> summary, CancellationToken cancellationToken)
    {
        AuditExportFormat? format = formatName switch { "jsonl" => AuditExportFormat.Jsonl, "fhir" => AuditExportFormat.Fhir, "cef" => AuditExportFormat.Cef, _ => null };
        filterError ??= format is null ? $"--format '{formatName}' is not one of jsonl, fhir, cef." : null;
        if (filterError is not null)
        {
            await error.WriteLineAsync(filterError).ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        var store = await OpenTrailAsync(folder, database, error).ConfigureAwait(false);
        if (store is null)
        {
            return ExitCodes.BadInput;
        }

        using var lifetime = (IDisposable)store;
        long written;
        if (outFile is not null)
        {
            var file = new StreamWriter(outFile, append: false, new System.Text.UTF8Encoding(false));
            await using (file.ConfigureAwait(false))
            {
                written = await AuditExport.ExportAsync(store, file, format!.Value, filter, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            written = await AuditExport.ExportAsync(store, output, format!.Value, filter, cancellationToken).ConfigureAwait(false);
        }

        await error.WriteLineAsync(summary(written)).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private static Command Prove(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var eventId = new Argument<string>("event-id") { Description = "The id of the event to prove." };
        var outFile = new Option<string?>("--out") { Description = "Write the proof to this file instead of standard output." };
        var command = new Command("prove", "Print the inclusion proof linking one event to a signed checkpoint (no other event is disclosed).");
        command.Options.Add(data);
        command.Options.Add(outFile);
        command.Arguments.Add(eventId);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = parse.GetValue(data)!;
            if (!await HasTrailAsync(folder, error).ConfigureAwait(false))
            {
                return ExitCodes.BadInput;
            }

            using var store = new SqliteAuditStore(Path.Combine(folder, Storage.Data.SafeguardDatabase.SqliteAuditFileName));
            var proof = await AuditProofs.CreateAsync(store, parse.GetValue(eventId)!, cancellationToken).ConfigureAwait(false);
            if (proof is null)
            {
                await error.WriteLineAsync("No such event, or no checkpoint covers it yet (one is written within the checkpoint interval).").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            if (parse.GetValue(outFile) is { } path)
            {
                await File.WriteAllTextAsync(path, proof, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await output.WriteLineAsync(proof).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command VerifyProof(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var file = new Argument<string>("proof") { Description = "The proof file made by 'safeguard audit prove'." };
        var command = new Command("verify-proof", "Check an inclusion proof against the trusted audit keys (DATA/audit-keys). Exit 0 only if it holds.");
        command.Options.Add(data);
        command.Arguments.Add(file);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                await error.WriteLineAsync($"The proof file '{path}' does not exist.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            using var folder = DataFolder.Open(parse.GetValue(data)!);
            var keys = folder.AuditKeys();
            await keys.LoadAsync(createIfMissing: false, cancellationToken).ConfigureAwait(false);
            var (valid, detail) = await AuditProofs.VerifyAsync(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), keys.Trusted).ConfigureAwait(false);
            await (valid ? output : error).WriteLineAsync((valid ? "Proof holds: " : "PROOF FAILS: ") + detail).ConfigureAwait(false);
            return valid ? ExitCodes.Success : ExitCodes.Failed;
        });
        return command;
    }

    private static Command Archive(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var until = new Option<string>("--until") { Description = "Archive events written before this time (ISO 8601).", Required = true };
        var outDir = new Option<string>("--out") { Description = "The archive directory (created; must be empty).", Required = true };
        var command = new Command("archive", "Write older events to files with a manifest signed by the audit key; they verify without the database. Nothing is deleted.");
        command.Options.Add(data);
        command.Options.Add(until);
        command.Options.Add(outDir);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (filter, filterError) = ParseFilter(null, parse.GetValue(until), null, null, null, null);
            var directory = parse.GetValue(outDir)!;
            if (filterError is null && Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            {
                filterError = $"--out '{directory}' is not empty.";
            }

            var folder = parse.GetValue(data)!;
            if (filterError is null && !File.Exists(Path.Combine(folder, Storage.Data.SafeguardDatabase.SqliteAuditFileName)))
            {
                filterError = $"No audit trail in '{folder}' (audit.db not found).";
            }

            if (filterError is not null)
            {
                await error.WriteLineAsync(filterError).ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            using var dataFolder = DataFolder.Open(folder);
            using var store = new SqliteAuditStore(dataFolder.DatabasePath);
            var keys = dataFolder.AuditKeys();
            await keys.LoadAsync(createIfMissing: true, cancellationToken).ConfigureAwait(false);
            var archived = await AuditArchive.CreateAsync(store, keys.Current!, filter!.Until!.Value, directory, TimeProvider.System.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{archived} events archived to {directory} ({AuditArchive.ManifestFile} signed by the audit key).")).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command VerifyArchive(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var directory = new Argument<string>("archive") { Description = "The archive directory." };
        var command = new Command("verify-archive", "Check an archive: the manifest's signature, each file's hash, each file's chain and checkpoints.");
        command.Options.Add(data);
        command.Arguments.Add(directory);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var folder = DataFolder.Open(parse.GetValue(data)!);
            var keys = folder.AuditKeys();
            await keys.LoadAsync(createIfMissing: false, cancellationToken).ConfigureAwait(false);
            var (problems, report) = await AuditArchive.VerifyAsync(parse.GetValue(directory)!, keys.Trusted, cancellationToken).ConfigureAwait(false);
            foreach (var problem in problems)
            {
                await error.WriteLineAsync(problem).ConfigureAwait(false);
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{(problems.Count == 0 ? "Archive intact" : "ARCHIVE TAMPERED")}: {report.Chains.Sum(c => c.Events)} events in {report.Chains.Count} chain(s).")).ConfigureAwait(false);
            return problems.Count == 0 ? ExitCodes.Success : ExitCodes.Failed;
        });
        return command;
    }

    private static (AuditFilter? Filter, string? Error) ParseFilter(string? since, string? until, string? subject, string? patient, string? type, string? outcome)
    {
        DateTimeOffset? from = null, to = null;
        if (since is not null)
        {
            if (!DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return (null, $"--since '{since}' is not a date or time (use ISO 8601, for example 2026-11-01 or 2026-11-01T08:00:00Z).");
            }

            from = parsed;
        }

        if (until is not null)
        {
            if (!DateTimeOffset.TryParse(until, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return (null, $"--until '{until}' is not a date or time (use ISO 8601).");
            }

            to = parsed;
        }

        AuditEventType? eventType = null;
        if (type is not null)
        {
            if (!AuditEventTypes.TryParse(type, out AuditEventType parsed))
            {
                return (null, $"--type '{type}' is not an event type; use one of {string.Join(", ", Enum.GetValues<AuditEventType>().Select(AuditEventTypes.WireName))}.");
            }

            eventType = parsed;
        }

        AuditOutcome? eventOutcome = null;
        if (outcome is not null)
        {
            if (!AuditEventTypes.TryParse(outcome, out AuditOutcome parsed))
            {
                return (null, $"--outcome '{outcome}' is not success, denied or error.");
            }

            eventOutcome = parsed;
        }

        return (new AuditFilter { Since = from, Until = to, Subject = subject, PatientId = patient, Type = eventType, Outcome = eventOutcome }, null);
    }

    private static Command Generate(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var count = new Option<int>("--count") { Description = "How many synthetic events to append.", DefaultValueFactory = _ => 1000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Concurrent producers, each awaiting durability.", DefaultValueFactory = _ => 64 };
        var chain = new Option<string?>("--chain") { Description = "The chain id (default: the machine name)." };
        var ack = new Option<bool>("--ack") { Description = "Print 'ack <seq> <event id>' as each event becomes durable." };
        var command = new Command("generate", "Append synthetic PHI-access events (no real data) for load tests and demonstrations; every event is awaited until durable.");
        command.Options.Add(data);
        command.Options.Add(count);
        command.Options.Add(concurrency);
        command.Options.Add(chain);
        command.Options.Add(ack);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var total = parse.GetValue(count);
            var producers = parse.GetValue(concurrency);
            if (total < 1 || producers < 1)
            {
                await error.WriteLineAsync("--count and --concurrency must be at least 1.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            using var folder = DataFolder.Open(parse.GetValue(data)!);
            using var store = new SqliteAuditStore(folder.DatabasePath);
            using var sink = new DirectoryCheckpointSink(folder.CheckpointsPath);
            var options = new AuditOptions { ChainId = parse.GetValue(chain), QueueCapacity = Math.Max(65_536, producers * 2) };
            var writer = DataFolder.AuditWriter(store, folder.AuditKeys(), sink, options);
            await using var writerScope = writer.ConfigureAwait(false);
            await writer.StartAsync(cancellationToken).ConfigureAwait(false);

            var printAcks = parse.GetValue(ack);
            var gate = new Lock();
            var next = 0;
            var watch = Stopwatch.StartNew();
            var tasks = Enumerable.Range(0, Math.Min(producers, total)).Select(_ => Task.Run(async () =>
            {
                while (true)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i > total)
                    {
                        return;
                    }

                    var auditEvent = SyntheticEvent(i);
                    var sequence = await writer.AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
                    if (printAcks)
                    {
                        lock (gate)
                        {
                            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ack {sequence} {auditEvent.EventId}"));
                        }
                    }
                }
            }, cancellationToken)).ToList();
            await Task.WhenAll(tasks).ConfigureAwait(false);
            await writer.StopAsync().ConfigureAwait(false);
            watch.Stop();
            await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{total} events durable on chain {writer.Chain} in {watch.Elapsed.TotalSeconds:0.00} s ({total / watch.Elapsed.TotalSeconds:0} events/s).")).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A synthetic event shaped like a real PHI access (about 500 bytes canonical), carrying no real data.</summary>
    internal static AuditEvent SyntheticEvent(int i) => new()
    {
        EventId = AuditEventIds.New(TimeProvider.System.GetUtcNow()),
        Time = TimeProvider.System.GetUtcNow(),
        Type = AuditEventType.PhiAccessAllowed,
        Outcome = AuditOutcome.Success,
        Subject = $"u-{i % 977:D6}-synthetic",
        ClientId = "synthetic-ehr-portal",
        SessionId = $"sid-{i % 4099:D8}",
        TokenId = $"jti-{i:D12}",
        Acr = "urn:safeguard:aal2",
        Amr = ["pwd", "otp"],
        SourceIp = "127.0.0.1",
        UserAgent = "safeguard-audit-generate/1.0 (synthetic load)",
        NodeId = "generator",
        Action = AuditAction.Read,
        ResourceType = "Observation",
        ResourceId = $"obs-{i:D12}",
        PatientId = $"pat-{i % 1499:D8}",
        PurposeOfUse = "TREAT",
        Reason = "SG0000",
        HttpStatus = 200,
        CorrelationId = $"corr-{i:D12}",
    };

    /// <summary>A one-line progress bar on a terminal (stderr).</summary>
    private sealed class TerminalProgress(TextWriter writer, long total) : IProgress<long>
    {
        public void Report(long value)
        {
            var fraction = total == 0 ? 1 : Math.Min(1, (double)value / total);
            var filled = (int)(fraction * 40);
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', 40 - filled)}] {fraction:P0} {value:N0}/{total:N0}"));
        }

        public void Done() => writer.Write("\r" + new string(' ', 80) + "\r");
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(AuditVerificationReport))]
internal sealed partial class AuditJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
