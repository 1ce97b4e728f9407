using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Safeguard.Audit;

/// <summary>
/// SHA-256 for the audit hot paths (every appended and every verified event). .NET's one-shot hash goes through
/// OpenSSL 3's provider dispatch, which costs about as much again as hashing a 600-byte event; OpenSSL's
/// low-level SHA256_Init/Update/Final reach the same SHA-NI code without it (measured 0.43 us against 0.85 us for
/// 655 bytes). Where libcrypto.so.3 cannot be loaded, <see cref="SHA256.HashData(ReadOnlySpan{byte}, Span{byte})"/> is used.
/// Both give identical digests (tested).
/// </summary>
internal static partial class Sha256
{
    private const string LibCrypto = "libcrypto.so.3";

    // SHA256_CTX is 112 bytes in OpenSSL 3; room to spare.
    private const int ContextSize = 256;

    private static readonly bool Native = ProbeNative();

    /// <summary>Whether the OpenSSL low-level path is in use.</summary>
    public static bool IsNative => Native;

    public static void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, SHA256.HashSizeInBytes, nameof(destination));
        if (!Native)
        {
            SHA256.HashData(data, destination);
            return;
        }

        Span<byte> context = stackalloc byte[ContextSize];
        if (SHA256_Init(context) != 1 || SHA256_Update(context, data, (nuint)data.Length) != 1 || SHA256_Final(destination, context) != 1)
        {
            SHA256.HashData(data, destination);
        }
    }

    /// <summary>SHA-256 of <paramref name="first"/> followed by <paramref name="second"/>, without joining them.</summary>
    public static void Hash(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, SHA256.HashSizeInBytes, nameof(destination));
        if (Native)
        {
            Span<byte> context = stackalloc byte[ContextSize];
            if (SHA256_Init(context) == 1 && SHA256_Update(context, first, (nuint)first.Length) == 1
                && SHA256_Update(context, second, (nuint)second.Length) == 1 && SHA256_Final(destination, context) == 1)
            {
                return;
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(first);
        hash.AppendData(second);
        hash.GetHashAndReset(destination);
    }

    private static bool ProbeNative()
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad(LibCrypto, out _))
            {
                return false;
            }

            // Known-answer check before trusting the native path: "abc" (FIPS 180-2 appendix B.1).
            Span<byte> digest = stackalloc byte[32];
            Span<byte> context = stackalloc byte[ContextSize];
            ReadOnlySpan<byte> abc = "abc"u8;
            return SHA256_Init(context) == 1 && SHA256_Update(context, abc, (nuint)abc.Length) == 1 && SHA256_Final(digest, context) == 1
                && digest.SequenceEqual(SHA256.HashData(abc));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    }

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Init(Span<byte> context);

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Update(Span<byte> context, ReadOnlySpan<byte> data, nuint length);

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Final(Span<byte> digest, Span<byte> context);
}
