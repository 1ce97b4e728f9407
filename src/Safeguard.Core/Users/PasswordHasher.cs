using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using NSec.Cryptography;

namespace Safeguard.Users;

/// <summary>
/// Argon2id password hashing (libsodium through NSec), in the self-describing PHC string format
/// <c>$argon2id$v=19$m=19456,t=2,p=1$&lt;salt&gt;$&lt;hash&gt;</c> (standard base64 without padding, 16-byte salt, 32-byte
/// hash), so a hash made under older parameters still verifies and is recognised for rehashing. The password is
/// normalised to NFKC and hashed whole (never truncated). At most <see cref="PasswordOptions.MaxConcurrentHashes"/>
/// hashes run at once, so a flood of sign-ins queues instead of exhausting memory; a caller that cannot get a slot
/// within <see cref="PasswordOptions.HashQueueTimeout"/> gets <see cref="PasswordHashingBusyException"/>.
/// </summary>
public sealed class PasswordHasher : IDisposable
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private const int MaxEncodedLength = 160;

    private readonly PasswordOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _slots;
    private long _derivations;

    /// <summary>Creates the hasher.</summary>
    /// <param name="options">The options (validated here too).</param>
    /// <param name="time">The clock the queue timeout runs on.</param>
    /// <exception cref="InvalidOperationException">Unicode normalisation is unavailable (<see cref="UnicodeNormalization"/>).</exception>
    public PasswordHasher(IOptions<PasswordOptions> options, TimeProvider time)
    {
        UnicodeNormalization.EnsureAvailable();
        _options = OptionsGuard.Validated(new PasswordOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _slots = new SemaphoreSlim(_options.MaxConcurrentHashes, _options.MaxConcurrentHashes);
    }

    /// <summary>How many Argon2id derivations this hasher has run (every sign-in path must cost exactly one).</summary>
    internal long Derivations => Interlocked.Read(ref _derivations);

    /// <summary>The cost new hashes are made with.</summary>
    public Argon2idCost Cost => _options.Cost;

    /// <summary>Hashes a password with a new random salt at the configured cost.</summary>
    /// <param name="password">The password (normalised to NFKC here).</param>
    /// <param name="cancellationToken">Cancels the wait for a hashing slot.</param>
    /// <returns>The PHC string.</returns>
    /// <exception cref="PasswordHashingBusyException">No slot was free in time.</exception>
    public async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(password);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var cost = _options.Cost;
        var hash = new byte[HashBytes];
        await RunAsync(() => Derive(password, salt, cost, hash), cancellationToken).ConfigureAwait(false);
        return Encode(cost, salt, hash);
    }

    /// <summary>Checks a password against a stored hash, in constant time over the hash.</summary>
    /// <param name="password">The presented password.</param>
    /// <param name="encoded">The stored PHC string; null or malformed never matches.</param>
    /// <param name="cancellationToken">Cancels the wait for a hashing slot.</param>
    /// <returns>Whether it matches, and whether the stored hash is weaker than the configured cost (rehash it after a match).</returns>
    /// <exception cref="PasswordHashingBusyException">No slot was free in time.</exception>
    public async Task<PasswordVerification> VerifyAsync(string password, string? encoded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (!TryDecode(encoded, out var cost, out var salt, out var expected))
        {
            // Spend what a real check costs, so a user without a usable hash cannot be told apart by timing.
            await HashAsync(password, cancellationToken).ConfigureAwait(false);
            return new PasswordVerification(false, false);
        }

        var actual = new byte[HashBytes];
        await RunAsync(() => Derive(password, salt, cost, actual), cancellationToken).ConfigureAwait(false);
        var matches = CryptographicOperations.FixedTimeEquals(actual, expected);
        return new PasswordVerification(matches, matches && cost.IsWeakerThan(_options.Cost));
    }

    /// <summary>Spends the work of one verification without a stored hash (for an unknown user: same time, same memory).</summary>
    /// <param name="password">The presented password.</param>
    /// <param name="cancellationToken">Cancels the wait for a hashing slot.</param>
    /// <returns>A task that completes when the work is done.</returns>
    public Task SpendAsync(string password, CancellationToken cancellationToken) => VerifyAsync(password, null, cancellationToken);

    /// <summary>Reads the cost recorded in a stored hash.</summary>
    /// <param name="encoded">The PHC string.</param>
    /// <param name="cost">The cost.</param>
    /// <returns>False if the string is not a well-formed Argon2id hash within the limits.</returns>
    public static bool TryReadCost(string? encoded, out Argon2idCost cost) => TryDecode(encoded, out cost, out _, out _);

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();

    /// <summary>Runs <paramref name="work"/> in a hashing slot, waiting at most the queue timeout for one.</summary>
    internal async Task RunAsync(Action work, CancellationToken cancellationToken)
    {
        using (var timeout = new CancellationTokenSource(_options.HashQueueTimeout, _time))
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken))
        {
            try
            {
                await _slots.WaitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new PasswordHashingBusyException();
            }
        }

        try
        {
            // Argon2id is CPU- and memory-bound for tens of milliseconds: keep it off the caller's thread.
            await Task.Run(work, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _derivations);
        }
        finally
        {
            _slots.Release();
        }
    }

    private static void Derive(string password, byte[] salt, Argon2idCost cost, byte[] output)
    {
        var normalized = password.Normalize(NormalizationForm.FormKC);
        var length = Encoding.UTF8.GetByteCount(normalized);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var written = Encoding.UTF8.GetBytes(normalized, buffer);
            var parameters = new Argon2Parameters { DegreeOfParallelism = cost.Parallelism, MemorySize = cost.MemoryKib, NumberOfPasses = cost.Iterations };
            PasswordBasedKeyDerivationAlgorithm.Argon2id(parameters).DeriveBytes(buffer.AsSpan(0, written), salt, output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Encode(Argon2idCost cost, byte[] salt, byte[] hash) => string.Create(CultureInfo.InvariantCulture,
        $"$argon2id$v=19$m={cost.MemoryKib},t={cost.Iterations},p={cost.Parallelism}${Convert.ToBase64String(salt).TrimEnd('=')}${Convert.ToBase64String(hash).TrimEnd('=')}");

    private static bool TryDecode(string? encoded, out Argon2idCost cost, out byte[] salt, out byte[] hash)
    {
        cost = default;
        salt = [];
        hash = [];
        if (encoded is null || encoded.Length > MaxEncodedLength)
        {
            return false;
        }

        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        var parts = encoded.Split('$');
        if (parts.Length != 6 || parts[0].Length != 0 || parts[1] != "argon2id" || parts[2] != "v=19")
        {
            return false;
        }

        var parameters = parts[3].Split(',');
        if (parameters.Length != 3
            || !TryReadParameter(parameters[0], "m=", out var memory) || memory is < 8 or > Argon2idCost.MaximumMemoryKib
            || !TryReadParameter(parameters[1], "t=", out var iterations) || iterations is < 1 or > Argon2idCost.MaximumIterations
            || !TryReadParameter(parameters[2], "p=", out var parallelism) || parallelism != 1)
        {
            return false;
        }

        if (!TryReadBase64(parts[4], SaltBytes, out salt) || !TryReadBase64(parts[5], HashBytes, out hash))
        {
            return false;
        }

        cost = new Argon2idCost(memory, iterations, parallelism);
        return true;
    }

    private static bool TryReadParameter(string text, string prefix, out int value)
    {
        value = 0;
        return text.StartsWith(prefix, StringComparison.Ordinal)
            && text.Length - prefix.Length is > 0 and <= 7
            && text[prefix.Length] != '0'
            && int.TryParse(text.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool TryReadBase64(string text, int bytes, out byte[] value)
    {
        value = [];
        var expectedLength = ((bytes * 4) + 2) / 3;
        if (text.Length != expectedLength)
        {
            return false;
        }

        var padded = text + new string('=', (4 - (text.Length % 4)) % 4);
        var buffer = new byte[bytes + 2];
        if (!Convert.TryFromBase64String(padded, buffer, out var written) || written != bytes)
        {
            return false;
        }

        value = buffer[..bytes];
        return true;
    }
}

/// <summary>The result of checking a password.</summary>
/// <param name="Matches">Whether the password is the one hashed.</param>
/// <param name="NeedsRehash">Whether the stored hash was made at a lower cost than configured (only ever true on a match).</param>
public readonly record struct PasswordVerification(bool Matches, bool NeedsRehash);

/// <summary>Every password-hashing slot stayed busy past the queue timeout: the caller should answer "try again shortly".</summary>
public sealed class PasswordHashingBusyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PasswordHashingBusyException()
        : base("Too many sign-ins are being checked at once; try again in a few seconds.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public PasswordHashingBusyException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PasswordHashingBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
