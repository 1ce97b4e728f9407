using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using Safeguard.Benchmarks;

// Usage: Safeguard.Benchmarks [quick|full|auth|memory [events]|generate DATA COUNT ...]. Prints the BenchmarkDotNet tables, then one
// name=value line per figure (the names issues give; bench/run.sh keeps only those lines). Ratios compare
// benchmarks of one run. "memory" only measures the verifier's footprint over a long trail (default 10,000,000).
// The sign-in load test (bench/load/login.sh) uses "signin-users DATA COUNT OUT" and "argon2id [COUNT [CONCURRENCY]]".
if (args.Length > 0 && args[0] == "generate")
{
    return await SyntheticAudit.RunAsync(args).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] == "signin-users")
{
    return await SignInLoad.SeedUsersAsync(args).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] == "argon2id")
{
    return await SignInLoad.Argon2idAsync(args).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] is "gateway-rig" or "yarp-plain" or "yarp-jwtbearer")
{
    return await GatewayRig.RunAsync(args).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] == "memory")
{
    var events = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000_000;
    var probe = AuditMemoryProbe.Run(events);
    Console.WriteLine($"audit_verify_events={probe.Events}");
    Console.WriteLine($"audit_verify_peak_mb={probe.PeakWorkingSetMb.ToString("0.#", CultureInfo.InvariantCulture)}");
    Console.WriteLine($"audit_verify_managed_peak_mb={probe.PeakManagedMb.ToString("0.#", CultureInfo.InvariantCulture)}");
    return probe.Events > 0 ? 0 : 1;
}

if (args.Length > 0 && args[0] == "handler-probe")
{
    var probe = new HandlerBenchmarks();
    probe.Setup();
    for (var round = 0; round < 5; round++)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ok = 0;
        for (var i = 0; i < 40; i++)
        {
            ok += await probe.HandlerNew().ConfigureAwait(false);
        }

        Console.WriteLine($"{ok} in {watch.Elapsed.TotalMilliseconds:0} ms: {watch.Elapsed.TotalMilliseconds * 1000 / ok:0.0} us each");
    }

    return 0;
}

if (args.Length > 0 && args[0] == "handler")
{
    // Only the handler figure (a quick job), for a check after changing the resource side.
    var only = BenchmarkRunner.Run<HandlerBenchmarks>(ManualConfig.Create(DefaultConfig.Instance)
        .AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12).WithIterationTime(TimeInterval.FromMilliseconds(250)).WithId("handler"))
        .WithOptions(ConfigOptions.DisableOptimizationsValidator));
    var created = (Median(only, nameof(HandlerBenchmarks.HandlerNew)) + Median(only, nameof(HandlerBenchmarks.HandlerNewAgain))) / 2;
    var raw = (Median(only, nameof(HandlerBenchmarks.RawVerify)) + Median(only, nameof(HandlerBenchmarks.RawVerifyAgain))) / 2;
    Console.WriteLine($"handler_new_us={(created / 1000).ToString("0.###", CultureInfo.InvariantCulture)}");
    Console.WriteLine($"handler_raw_verify_us={(raw / 1000).ToString("0.###", CultureInfo.InvariantCulture)}");
    Console.WriteLine($"handler_new_minus_raw_verify={((created - raw) / 1000).ToString("0.###", CultureInfo.InvariantCulture)}");
    return only.Reports.All(r => r.Success) ? 0 : 1;
}

if (args.Length > 0 && args[0] == "auth")
{
    // Only the client-authentication timing (a quick job), for a check after changing that path.
    var only = BenchmarkRunner.Run<ClientAuthenticationBenchmarks>(ManualConfig.Create(DefaultConfig.Instance)
        .AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12).WithIterationTime(TimeInterval.FromMilliseconds(250)).WithId("auth"))
        .WithOptions(ConfigOptions.DisableOptimizationsValidator));
    PrintClientAuthentication(only);
    return only.Reports.All(r => r.Success) ? 0 : 1;
}

var quick = args.Length == 0 || args[0] != "full";
var id = quick ? "quick" : "full";

var tokenJob = quick
    ? Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12).WithIterationTime(TimeInterval.FromMilliseconds(250))
    : Job.Default;

// Each audit invocation writes or reads 100,000 to 1,000,000 events: one invocation per iteration.
var auditJob = (quick ? Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5) : Job.Default.WithWarmupCount(3).WithIterationCount(15))
    .WithInvocationCount(1).WithUnrollFactor(1);

var tokens = BenchmarkRunner.Run<TokenBenchmarks>(Config(tokenJob.WithId(id)));
var audit = BenchmarkRunner.Run<AuditBenchmarks>(Config(auditJob.WithId(id)));
var clientAuth = BenchmarkRunner.Run<ClientAuthenticationBenchmarks>(Config(tokenJob.WithId(id)));
var handler = BenchmarkRunner.Run<HandlerBenchmarks>(Config(tokenJob.WithId(id)));

static ManualConfig Config(Job job) => ManualConfig.Create(DefaultConfig.Instance).AddJob(job).WithOptions(ConfigOptions.DisableOptimizationsValidator);

// Medians, not means: on a 2-core machine one iteration disturbed by the kernel (writeback, a timer storm) moves
// a mean by 10 % and a median not at all.
static double Mean(Summary summary, string method) =>
    summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics?.Median
    ?? throw new InvalidOperationException($"Benchmark {method} produced no result.");

static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

static string PerSecond(double nanoseconds) => (1e9 / nanoseconds).ToString("0", CultureInfo.InvariantCulture);

double Pair(string first, string again) => (Mean(tokens, first) + Mean(tokens, again)) / 2;
var validateNew = Pair(nameof(TokenBenchmarks.ValidateNew), nameof(TokenBenchmarks.ValidateNewAgain));
var rawVerify = Pair(nameof(TokenBenchmarks.RawVerify), nameof(TokenBenchmarks.RawVerifyAgain));
var issue = Pair(nameof(TokenBenchmarks.Issue), nameof(TokenBenchmarks.IssueAgain));
var rawSign = Pair(nameof(TokenBenchmarks.RawSign), nameof(TokenBenchmarks.RawSignAgain));
Console.WriteLine($"validate_new_vs_raw_verify={Format(validateNew / rawVerify)}");
Console.WriteLine($"validate_cached={Format(Mean(tokens, nameof(TokenBenchmarks.ValidateCached)) / 1000)}");
Console.WriteLine($"issue_vs_raw_sign={Format(issue / rawSign)}");
Console.WriteLine($"raw_verify_us={Format(rawVerify / 1000)}");
Console.WriteLine($"validate_new_us={Format(validateNew / 1000)}");
Console.WriteLine($"raw_sign_us={Format(rawSign / 1000)}");
Console.WriteLine($"issue_us={Format(issue / 1000)}");

Console.WriteLine($"audit_append={PerSecond(Mean(audit, nameof(AuditBenchmarks.Append)))}");
Console.WriteLine($"audit_raw_insert={PerSecond(Mean(audit, nameof(AuditBenchmarks.RawInsert)))}");
Console.WriteLine($"audit_append_vs_raw_insert={Format(Mean(audit, nameof(AuditBenchmarks.Append)) / Mean(audit, nameof(AuditBenchmarks.RawInsert)))}");
Console.WriteLine($"audit_verify={PerSecond(Mean(audit, nameof(AuditBenchmarks.Verify)))}");
Console.WriteLine($"audit_raw_scan_hash={PerSecond(Mean(audit, nameof(AuditBenchmarks.RawScanHash)))}");
Console.WriteLine($"audit_verify_vs_raw_scan_hash={Format(Mean(audit, nameof(AuditBenchmarks.Verify)) / Mean(audit, nameof(AuditBenchmarks.RawScanHash)))}");

PrintClientAuthentication(clientAuth);

// The in-process handler with a token it has never seen, minus the raw ECDSA verify that token needs (issue 12: <= 20 us).
var handlerNew = (Mean(handler, nameof(HandlerBenchmarks.HandlerNew)) + Mean(handler, nameof(HandlerBenchmarks.HandlerNewAgain))) / 2;
var handlerVerify = (Mean(handler, nameof(HandlerBenchmarks.RawVerify)) + Mean(handler, nameof(HandlerBenchmarks.RawVerifyAgain))) / 2;
Console.WriteLine($"handler_new_us={Format(handlerNew / 1000)}");
Console.WriteLine($"handler_raw_verify_us={Format(handlerVerify / 1000)}");
Console.WriteLine($"handler_new_minus_raw_verify={Format((handlerNew - handlerVerify) / 1000)}");

var peak = AuditMemoryProbe.Run(quick ? 1_000_000 : 10_000_000);
Console.WriteLine($"audit_verify_events={peak.Events}");
Console.WriteLine($"audit_verify_peak_mb={Format(peak.PeakWorkingSetMb)}");
Console.WriteLine($"audit_verify_managed_peak_mb={Format(peak.PeakManagedMb)}");

return tokens.Reports.Concat(audit.Reports).Concat(clientAuth.Reports).Concat(handler.Reports).All(r => r.Success) ? 0 : 1;

// Client enumeration by timing: 1.0 means an outsider cannot tell the cases apart by how long a refusal takes.
static void PrintClientAuthentication(Summary clientAuth)
{
    double Auth(string method) => (Mean(clientAuth, method) + Mean(clientAuth, method + "Again")) / 2;
    Console.WriteLine($"client_auth_basic_unknown_vs_wrong_secret={Format(Auth(nameof(ClientAuthenticationBenchmarks.BasicUnknown)) / Auth(nameof(ClientAuthenticationBenchmarks.BasicWrongSecret)))}");
    Console.WriteLine($"client_auth_basic_other_method_vs_wrong_secret={Format(Auth(nameof(ClientAuthenticationBenchmarks.BasicOtherMethod)) / Auth(nameof(ClientAuthenticationBenchmarks.BasicWrongSecret)))}");
    Console.WriteLine($"client_auth_assertion_unknown_vs_bad_signature={Format(Auth(nameof(ClientAuthenticationBenchmarks.AssertionUnknown)) / Auth(nameof(ClientAuthenticationBenchmarks.AssertionBadSignature)))}");
    Console.WriteLine($"client_auth_assertion_other_method_vs_bad_signature={Format(Auth(nameof(ClientAuthenticationBenchmarks.AssertionOtherMethod)) / Auth(nameof(ClientAuthenticationBenchmarks.AssertionBadSignature)))}");
    Console.WriteLine($"client_auth_basic_wrong_secret_us={Format(Auth(nameof(ClientAuthenticationBenchmarks.BasicWrongSecret)) / 1000)}");
    Console.WriteLine($"client_auth_assertion_bad_signature_us={Format(Auth(nameof(ClientAuthenticationBenchmarks.AssertionBadSignature)) / 1000)}");
}

static double Median(Summary summary, string method) =>
    summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics?.Median
    ?? throw new InvalidOperationException($"Benchmark {method} produced no result.");
