using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using Safeguard.Benchmarks;

// Usage: Safeguard.Benchmarks [quick|full]. Prints the BenchmarkDotNet tables, then one name=value line per
// figure (the names issues give; bench/run.sh keeps only those lines). Ratios compare benchmarks of one run.
var quick = args.Length == 0 || args[0] != "full";
var job = quick
    ? Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(8).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
    : Job.Default;
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(job.WithId(quick ? "quick" : "full"))
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);

var summary = BenchmarkRunner.Run<TokenBenchmarks>(config);

double Mean(string method) =>
    summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method).ResultStatistics?.Mean
    ?? throw new InvalidOperationException($"Benchmark {method} produced no result.");

static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

Console.WriteLine($"validate_new_vs_raw_verify={Format(Mean(nameof(TokenBenchmarks.ValidateNew)) / Mean(nameof(TokenBenchmarks.RawVerify)))}");
Console.WriteLine($"validate_cached={Format(Mean(nameof(TokenBenchmarks.ValidateCached)) / 1000)}");
Console.WriteLine($"issue_vs_raw_sign={Format(Mean(nameof(TokenBenchmarks.Issue)) / Mean(nameof(TokenBenchmarks.RawSign)))}");
Console.WriteLine($"raw_verify_us={Format(Mean(nameof(TokenBenchmarks.RawVerify)) / 1000)}");
Console.WriteLine($"validate_new_us={Format(Mean(nameof(TokenBenchmarks.ValidateNew)) / 1000)}");
Console.WriteLine($"raw_sign_us={Format(Mean(nameof(TokenBenchmarks.RawSign)) / 1000)}");
Console.WriteLine($"issue_us={Format(Mean(nameof(TokenBenchmarks.Issue)) / 1000)}");
return summary.Reports.All(r => r.Success) ? 0 : 1;
