using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using CsCheck;

namespace Safeguard.Tests.Fuzz;

/// <summary>
/// Hostile variants of a well-formed input for the fuzz tests: one to four edits drawn from truncation, bit flips,
/// byte and character replacement (invalid UTF-8, lone surrogates, NUL), insertion, deletion and duplication, and, for
/// a compact JWS, edits inside a decoded segment (duplicated members, huge or odd numbers, deep nesting, type changes,
/// dangerous headers) and every base64url variant (padding, the standard alphabet, whitespace, non-canonical trailing
/// bits). Each property then says what no variant may do: throw, hang, allocate without bound, or be accepted unless
/// it is the original.
/// </summary>
internal static class Mutations
{
    /// <summary>Inputs per target: <c>SAFEGUARD_FUZZ_ITERATIONS</c>, or 2,000 (the short run in ./test.sh).</summary>
    public static long Iterations =>
        long.TryParse(Environment.GetEnvironmentVariable("SAFEGUARD_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 2_000;

    /// <summary>The most one input may allocate while being checked.</summary>
    public const long MaxAllocationBytes = 4 * 1024 * 1024;

    /// <summary>Longer than this for one input is a hang, not slowness (nothing here should take a millisecond).</summary>
    public static readonly TimeSpan HangAfter = TimeSpan.FromSeconds(5);

    private static readonly string[] Odd = ["=", "==", "+", "/", " ", "\n", "\t", "\0", ".", "..", "\uFFFF", "\uD800", "\uDC00", "é", "%", "\\", "\"", "{", "}", "[", "]", ":", ",", "A", "_", "-", "~"];

    private static readonly string[] JsonValues =
    [
        "1e400", "-1e400", "99999999999999999999999999999", "-0", "0.0000000000000000000001", "1.5", "NaN", "Infinity", "null", "true",
        "false", "[]", "{}", "\"\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00x\"", "[\"a\",\"b\"]", "{\"a\":1}", "9007199254740993", "-9223372036854775809",
    ];

    private static readonly string[] Members =
    [
        "\"alg\":\"none\"", "\"alg\":\"HS256\"", "\"crit\":[\"exp\"]", "\"jku\":\"https://attacker.example/jwks\"", "\"x5u\":\"https://attacker.example/c\"",
        "\"kid\":\"../../../etc/passwd\"", "\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}", "\"typ\":\"JWT\"", "\"exp\":9999999999", "\"nbf\":0", "\"aud\":[\"a\",\"b\"]",
        "\"b64\":false", "\"zip\":\"DEF\"", "\"enc\":\"A256GCM\"", "\"__proto__\":{}",
    ];

    /// <summary>Variants of <paramref name="seed"/>, a string (a JWS, a form body, a JSON document).</summary>
    public static Gen<string> Of(string seed) =>
        Edit.Array[1, 4].Select(edits => edits.Aggregate(seed, (text, edit) => edit(text)));

    /// <summary>Variants of <paramref name="seed"/> as UTF-8 bytes, with byte-level edits that make invalid UTF-8 too.</summary>
    public static Gen<byte[]> OfBytes(byte[] seed) =>
        Gen.Frequency(
            (3, Of(Encoding.UTF8.GetString(seed)).Select(Encoding.UTF8.GetBytes)),
            (2, ByteEdit.Array[1, 4].Select(edits => edits.Aggregate(seed, (bytes, edit) => edit(bytes)))));

    /// <summary>Runs <paramref name="check"/> on one input and fails on a hang or an allocation beyond the bound.</summary>
    public static T Bounded<T>(Func<T> check)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var result = check();
        watch.Stop();
        var used = GC.GetAllocatedBytesForCurrentThread() - allocated;
        if (used > MaxAllocationBytes)
        {
            throw new InvalidOperationException($"One input allocated {used:N0} bytes (bound {MaxAllocationBytes:N0}).");
        }

        if (watch.Elapsed > HangAfter)
        {
            throw new TimeoutException($"One input took {watch.Elapsed} (a hang).");
        }

        return result;
    }

    /// <summary>A printable form of an input for a failure report.</summary>
    public static string Print(string input) => input.Length > 600 ? input[..600] + $"... ({input.Length} chars)" : input;

    private static Gen<Func<string, string>> Edit => Gen.Frequency(
        (3, Gen.Int.Select(at => Fn(s => s[..Mod(at, s.Length + 1)]))),
        (4, Gen.Select(Gen.Int, Gen.Int[0, 15], (at, bit) => Fn(s => s.Length == 0 ? s : Replace(s, Mod(at, s.Length), ((char)(s[Mod(at, s.Length)] ^ (1 << bit))).ToString())))),
        (3, Gen.Select(Gen.Int, Gen.Int[0, Odd.Length - 1], (at, odd) => Fn(s => s.Length == 0 ? Odd[odd] : Replace(s, Mod(at, s.Length), Odd[odd])))),
        (2, Gen.Select(Gen.Int, Gen.Int[0, Odd.Length - 1], (at, odd) => Fn(s => s.Insert(Mod(at, s.Length + 1), Odd[odd])))),
        (2, Gen.Select(Gen.Int, Gen.Int[1, 64], (at, length) => Fn(s => s.Length == 0 ? s : s.Remove(Mod(at, s.Length), Math.Min(length, s.Length - Mod(at, s.Length)))))),
        (2, Gen.Select(Gen.Int, Gen.Int[1, 64], (at, length) => Fn(s => Duplicate(s, at, length)))),
        (1, Gen.Int[1, 200_000].Select(length => Fn(s => s + new string('A', length)))),
        (4, Gen.Select(Gen.Int[0, 1], Gen.Int, Gen.Int[0, JsonValues.Length - 1], (segment, at, value) => Fn(s => InSegment(s, segment, json => ReplaceValue(json, at, JsonValues[value]))))),
        (3, Gen.Select(Gen.Int[0, 1], Gen.Int, (segment, at) => Fn(s => InSegment(s, segment, json => DuplicateMember(json, at))))),
        (3, Gen.Select(Gen.Int[0, 1], Gen.Int[0, Members.Length - 1], (segment, member) => Fn(s => InSegment(s, segment, json => AddMember(json, Members[member]))))),
        (2, Gen.Select(Gen.Int[0, 1], Gen.Int, Gen.Int[1, 100_000], (segment, at, depth) => Fn(s => InSegment(s, segment, json => ReplaceValue(json, at, new string('[', depth) + new string(']', depth)))))),
        (2, Gen.Select(Gen.Int[0, 2], Gen.Int, Gen.Int[0, 7], (segment, at, bit) => Fn(s => InSegmentBytes(s, segment, bytes => FlipByte(bytes, at, bit))))),
        (3, Gen.Select(Gen.Int[0, 2], Gen.Int[0, 5], (segment, variant) => Fn(s => Base64Variant(s, segment, variant)))));

    private static Gen<Func<byte[], byte[]>> ByteEdit => Gen.Frequency(
        (3, Gen.Select(Gen.Int, Gen.Int[0, 7], (at, bit) => FnB(b => FlipByte(b, at, bit)))),
        (3, Gen.Select(Gen.Int, Gen.OneOf<byte>(0x00, 0x80, 0xBF, 0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFE, 0xFF), (at, value) => FnB(b => b.Length == 0 ? b : [.. b[..Mod(at, b.Length)], value, .. b[(Mod(at, b.Length) + 1)..]]))),
        (2, Gen.Int.Select(at => FnB(b => b[..Mod(at, b.Length + 1)]))),
        (1, Gen.Select(Gen.Int, Gen.Int[1, 8], (at, count) => FnB(b => [.. b[..Mod(at, b.Length + 1)], .. Enumerable.Repeat((byte)0xED, count), .. b[Mod(at, b.Length + 1)..]]))));

    private static Func<string, string> Fn(Func<string, string> edit) => edit;

    private static Func<byte[], byte[]> FnB(Func<byte[], byte[]> edit) => edit;

    private static int Mod(int value, int modulus) => modulus == 0 ? 0 : (int)((uint)value % (uint)modulus);

    private static string Replace(string s, int at, string with) => s[..at] + with + s[(at + 1)..];

    private static string Duplicate(string s, int at, int length)
    {
        if (s.Length == 0)
        {
            return s;
        }

        var start = Mod(at, s.Length);
        var piece = s.Substring(start, Math.Min(length, s.Length - start));
        return s.Insert(start, piece);
    }

    private static byte[] FlipByte(byte[] bytes, int at, int bit)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var copy = (byte[])bytes.Clone();
        copy[Mod(at, copy.Length)] ^= (byte)(1 << bit);
        return copy;
    }

    /// <summary>Edits the decoded text of a JWS segment and re-encodes it canonically (a non-JWS input is left alone).</summary>
    private static string InSegment(string jws, int segment, Func<string, string> edit) =>
        InSegmentBytes(jws, segment, bytes => Encoding.UTF8.GetBytes(edit(Encoding.UTF8.GetString(bytes))));

    private static string InSegmentBytes(string jws, int segment, Func<byte[], byte[]> edit)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3 || !Base64Url.IsValid(parts[segment]))
        {
            return jws;
        }

        parts[segment] = Base64Url.EncodeToString(edit(Base64Url.DecodeFromChars(parts[segment])));
        return string.Join('.', parts);
    }

    /// <summary>The same bytes, or nearly, in a form a strict reader must refuse: padded, standard alphabet, spaced, or with non-zero trailing bits.</summary>
    private static string Base64Variant(string jws, int segment, int variant)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3)
        {
            return jws;
        }

        var part = parts[segment];
        parts[segment] = variant switch
        {
            0 => part + new string('=', (4 - (part.Length % 4)) % 4 is 0 ? 1 : (4 - (part.Length % 4)) % 4),
            1 => part.Replace('-', '+').Replace('_', '/') + (part.Contains('-', StringComparison.Ordinal) || part.Contains('_', StringComparison.Ordinal) ? string.Empty : "+"),
            2 => part.Length > 4 ? part.Insert(part.Length / 2, " ") : part + " ",
            3 => part.Length > 4 ? part.Insert(part.Length / 2, "\r\n") : part + "\n",
            4 => part.Length == 0 ? "A" : part[..^1] + NextInAlphabet(part[^1]),
            _ => Convert.ToBase64String(Base64Url.IsValid(part) ? Base64Url.DecodeFromChars(part) : Encoding.UTF8.GetBytes(part)),
        };
        return string.Join('.', parts);
    }

    private static char NextInAlphabet(char c)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var at = Alphabet.IndexOf(c, StringComparison.Ordinal);
        return Alphabet[(at + 1) % Alphabet.Length];
    }

    /// <summary>Replaces the value after the n-th <c>":</c> in a JSON text.</summary>
    private static string ReplaceValue(string json, int at, string value)
    {
        var colons = Positions(json, "\":");
        if (colons.Count == 0)
        {
            return json;
        }

        var start = colons[Mod(at, colons.Count)] + 2;
        var end = start;
        var depth = 0;
        var inString = false;
        for (; end < json.Length; end++)
        {
            var c = json[end];
            if (inString)
            {
                if (c == '\\')
                {
                    end++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
            }
            else if (c is '[' or '{')
            {
                depth++;
            }
            else if (c is ']' or '}')
            {
                if (depth == 0)
                {
                    break;
                }

                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                break;
            }
        }

        return json[..start] + value + json[end..];
    }

    /// <summary>Repeats the n-th member (with a different value), so a reader that takes the last one would see the attacker's.</summary>
    private static string DuplicateMember(string json, int at)
    {
        var quotes = Positions(json, "\":");
        if (quotes.Count == 0 || !json.StartsWith('{'))
        {
            return json;
        }

        var colon = quotes[Mod(at, quotes.Count)];
        var nameStart = json.LastIndexOf('"', colon - 1);
        if (nameStart < 0)
        {
            return json;
        }

        var name = json[nameStart..(colon + 1)];
        return json.Insert(json.Length - 1, "," + name + ":\"attacker\"");
    }

    private static string AddMember(string json, string member) =>
        json.StartsWith('{') && json.Length > 1 ? "{" + member + "," + json[1..] : json;

    private static List<int> Positions(string text, string value)
    {
        var positions = new List<int>();
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            positions.Add(i);
        }

        return positions;
    }
}
