using System.Security.Cryptography;
using Safeguard.Clients;

namespace Safeguard.Users;

/// <summary>
/// User subject identifiers: <c>usr_</c> and 26 lower-case base32 characters of 128 random bits. Client ids can never
/// take this shape (<see cref="ClientIds.IsReservedForUsers"/>), so a user's <c>sub</c> can never equal a client's
/// (client-credentials tokens carry the client id as <c>sub</c>).
/// </summary>
public static class UserSubjects
{
    /// <summary>The prefix every user subject has.</summary>
    public const string Prefix = ClientIds.UserSubjectPrefix;

    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>A new subject.</summary>
    /// <returns>The subject.</returns>
    public static string New()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        Span<char> text = stackalloc char[Prefix.Length + 26];
        Prefix.CopyTo(text);
        var bits = 0;
        var buffer = 0;
        var position = Prefix.Length;
        foreach (var b in random)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                text[position++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        text[position++] = Alphabet[(buffer << (5 - bits)) & 31];
        return new string(text[..position]);
    }

    /// <summary>Whether <paramref name="value"/> has the shape of a user subject.</summary>
    /// <param name="value">A presented value.</param>
    /// <returns>True if well-formed.</returns>
    public static bool IsWellFormed(ReadOnlySpan<char> value)
    {
        if (value.Length != Prefix.Length + 26 || !value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in value[Prefix.Length..])
        {
            if (!Alphabet.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
