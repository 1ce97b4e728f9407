using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Hosting;
using Safeguard.State;
using Safeguard.Users;

namespace Safeguard.Benchmarks;

/// <summary>
/// The two helpers of the sign-in load test (<c>bench/load/login.sh</c>):
/// <list type="bullet">
/// <item><c>signin-users DATA COUNT OUT</c> seeds a throwaway data folder with users who have a password, an
/// authenticator app and ten recovery codes, made by the same services as <c>safeguard users add</c> and
/// <c>users totp-enroll</c> (the seed sealed under the folder's KEK), and writes <c>username secret</c> lines to OUT.
/// Running the command line twice per user would take longer than the whole benchmark.</item>
/// <item><c>argon2id COUNT [CONCURRENCY]</c> measures the CPU one password verification costs with the server's
/// hasher at its default cost, CONCURRENCY at a time (default 2, the server's hashing slots on 2 cores), and prints
/// <c>argon2id_ms</c> (process CPU per verification).</item>
/// </list>
/// </summary>
internal static class SignInLoad
{
    /// <summary>The password of every seeded user (one hash, shared: verifying it costs what any password at the same cost does).</summary>
    public const string Password = "bench sign-in horse battery staple";

    public static async Task<int> SeedUsersAsync(string[] args)
    {
        if (args.Length < 4)
        {
            await Console.Error.WriteLineAsync("usage: Safeguard.Benchmarks signin-users DATA COUNT OUT").ConfigureAwait(false);
            return 2;
        }

        var count = int.Parse(args[2], CultureInfo.InvariantCulture);
        var configuration = SafeguardConfiguration.Build([$"--Safeguard:DataPath={args[1]}"]);
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSafeguardCore(configuration).AddSafeguardStorage(configuration);
        await using var provider = services.BuildServiceProvider();
        SafeguardOptionsValidation.ValidateAll(provider);
        await provider.GetRequiredService<IStateStore>().PrepareAsync(migrate: false, CancellationToken.None).ConfigureAwait(false);

        var hash = await provider.GetRequiredService<PasswordHasher>().HashAsync(Password, CancellationToken.None).ConfigureAwait(false);
        var users = provider.GetRequiredService<IUserStore>();
        var authenticators = provider.GetRequiredService<IAuthenticatorStore>();
        var totp = provider.GetRequiredService<TotpAuthenticators>();
        var recovery = provider.GetRequiredService<RecoveryCodes>();
        var watch = Stopwatch.StartNew();
        await using var output = new StreamWriter(args[3]);
        for (var i = 1; i <= count; i++)
        {
            var now = TimeProvider.System.GetUtcNow();
            var user = new User
            {
                Subject = UserSubjects.New(),
                Username = string.Create(CultureInfo.InvariantCulture, $"bench.login.{i:D5}"),
                Roles = ["clinician"],
                Status = UserStatus.Active,
                PasswordHash = hash,
                PasswordChangedAt = now,
                CreatedAt = now,
                UpdatedAt = now,
            };
            await users.AddAsync(user, CancellationToken.None).ConfigureAwait(false);
            var enrolment = totp.Create(user);
            var (_, codes) = recovery.Create(user);
            await authenticators.AddAsync([enrolment.Authenticator, .. codes], CancellationToken.None).ConfigureAwait(false);
            await output.WriteLineAsync($"{user.Username} {enrolment.Secret}").ConfigureAwait(false);
        }

        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{count} users with an authenticator app seeded in {watch.Elapsed.TotalSeconds:0.0} s.")).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> Argon2idAsync(string[] args)
    {
        var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 60;
        var concurrency = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);

        // The server's hasher with the server's defaults (PasswordOptions: m=19456 KiB, t=2, p=1), through
        // VerifyAsync as a sign-in calls it (its slot, Task.Run, NFKC, libsodium, the constant-time compare).
        using var hasher = new PasswordHasher(Options.Create(new PasswordOptions { MaxConcurrentHashes = concurrency }), TimeProvider.System);
        var stored = await hasher.HashAsync(Password, CancellationToken.None).ConfigureAwait(false);
        await RunAsync(hasher, stored, Math.Max(4, count / 10), concurrency).ConfigureAwait(false); // warm-up: JIT, pages of the 19 MiB blocks

        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await RunAsync(hasher, stored, count, concurrency).ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"argon2id_ms={cpu.TotalMilliseconds / count:0.00}"));
        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{count} Argon2id verifications, {concurrency} at a time: {cpu.TotalMilliseconds:0} ms of CPU in {elapsed.TotalMilliseconds:0} ms ({elapsed.TotalMilliseconds * Math.Min(concurrency, Environment.ProcessorCount) / count:0.00} ms each).")).ConfigureAwait(false);
        return 0;
    }

    private static async Task RunAsync(PasswordHasher hasher, string stored, int count, int concurrency)
    {
        var next = 0;
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                if (!(await hasher.VerifyAsync(Password, stored, CancellationToken.None).ConfigureAwait(false)).Matches)
                {
                    throw new InvalidOperationException("The password did not verify.");
                }
            }
        }));
        await Task.WhenAll(workers).ConfigureAwait(false);
    }
}
