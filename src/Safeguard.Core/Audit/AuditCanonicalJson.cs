using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Safeguard.Audit;

/// <summary>
/// The canonical form of an audit event: RFC 8785 (JSON Canonicalization Scheme) applied to the documented
/// member set (docs/audit.md). Members are sorted by name; there is no insignificant whitespace; strings are
/// UTF-8 with only <c>"</c>, <c>\</c> and control characters escaped (RFC 8785 section 3.2.2.2); integers are
/// plain decimals; times are RFC 3339 UTC with exactly six fractional digits; members that are null, false or
/// empty are omitted. Any verifier can re-create these bytes from the parsed event.
/// </summary>
public static class AuditCanonicalJson
{
    /// <summary>Longest string value kept; longer values are cut (a user agent, say), so events stay small.</summary>
    public const int MaxStringLength = 2048;

    private static readonly SearchValues<char> NeedsEscape = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F");

    /// <summary>Writes the canonical form of <paramref name="e"/>.</summary>
    /// <param name="e">The event, with chain and sequence set.</param>
    /// <param name="output">Where the UTF-8 bytes go.</param>
    public static void Write(AuditEvent e, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var buffer = new CanonicalBuffer(1024);
        Write(e, buffer);
        output.Write(buffer.Written);
    }

    /// <summary>The canonical form as a new array.</summary>
    /// <param name="e">The event.</param>
    /// <returns>UTF-8 bytes.</returns>
    public static byte[] ToBytes(AuditEvent e)
    {
        var buffer = new CanonicalBuffer(1024);
        Write(e, buffer);
        return buffer.Written.ToArray();
    }

    /// <summary>The canonical time format: <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> in UTC.</summary>
    /// <param name="time">A time.</param>
    /// <returns>The text.</returns>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Appends the canonical form of <paramref name="e"/> to <paramref name="b"/>.</summary>
    internal static void Write(AuditEvent e, CanonicalBuffer b)
    {
        ArgumentNullException.ThrowIfNull(e);
        b.Byte((byte)'{');
        var first = true;

        // Member names in RFC 8785 order (ordinal on UTF-16 code units; all names are ASCII).
        String(b, ref first, "\"acr\":"u8, e.Acr);
        String(b, ref first, "\"action\":"u8, e.Action is { } action ? AuditEventTypes.WireName(action) : null);
        String(b, ref first, "\"actor\":"u8, e.Actor);
        Strings(b, ref first, "\"amr\":"u8, e.Amr);
        String(b, ref first, "\"chain\":"u8, e.Chain);
        Changes(b, ref first, e.Changes);
        String(b, ref first, "\"client_id\":"u8, e.ClientId);
        String(b, ref first, "\"cnf\":"u8, e.ConfirmationThumbprint);
        String(b, ref first, "\"correlation_id\":"u8, e.CorrelationId);
        Integer(b, ref first, "\"count\":"u8, e.Count);
        Integer(b, ref first, "\"duration_ms\":"u8, e.DurationMs);
        if (e.Emergency)
        {
            Name(b, ref first, "\"emergency\":"u8);
            b.Bytes("true"u8);
        }

        String(b, ref first, "\"event_id\":"u8, e.EventId);
        Integer(b, ref first, "\"http_status\":"u8, e.HttpStatus);
        String(b, ref first, "\"jti\":"u8, e.TokenId);
        String(b, ref first, "\"method\":"u8, e.Method);
        String(b, ref first, "\"node_id\":"u8, e.NodeId);
        String(b, ref first, "\"outcome\":"u8, AuditEventTypes.WireName(e.Outcome));
        String(b, ref first, "\"patient_id\":"u8, e.PatientId);
        String(b, ref first, "\"purpose_of_use\":"u8, e.PurposeOfUse);
        String(b, ref first, "\"reason\":"u8, e.Reason);
        String(b, ref first, "\"resource_id\":"u8, e.ResourceId);
        String(b, ref first, "\"resource_type\":"u8, e.ResourceType);
        String(b, ref first, "\"route\":"u8, e.Route);
        Integer(b, ref first, "\"seq\":"u8, e.Sequence);
        String(b, ref first, "\"sid\":"u8, e.SessionId);
        String(b, ref first, "\"source_ip\":"u8, e.SourceIp);
        String(b, ref first, "\"sub\":"u8, e.Subject);
        Name(b, ref first, "\"time\":"u8);
        Time(b, e.Time);
        String(b, ref first, "\"type\":"u8, AuditEventTypes.WireName(e.Type));
        String(b, ref first, "\"user_agent\":"u8, e.UserAgent);
        b.Byte((byte)'}');
    }

    private static void Name(CanonicalBuffer b, ref bool first, ReadOnlySpan<byte> quotedNameAndColon)
    {
        if (!first)
        {
            b.Byte((byte)',');
        }

        first = false;
        b.Bytes(quotedNameAndColon);
    }

    private static void String(CanonicalBuffer b, ref bool first, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            return;
        }

        Name(b, ref first, name);
        Text(b, value);
    }

    private static void Strings(CanonicalBuffer b, ref bool first, ReadOnlySpan<byte> name, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        Name(b, ref first, name);
        b.Byte((byte)'[');
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                b.Byte((byte)',');
            }

            Text(b, values[i] ?? string.Empty);
        }

        b.Byte((byte)']');
    }

    private static void Changes(CanonicalBuffer b, ref bool first, IReadOnlyList<AuditChange> changes)
    {
        if (changes.Count == 0)
        {
            return;
        }

        Name(b, ref first, "\"changes\":"u8);
        b.Byte((byte)'[');
        for (var i = 0; i < changes.Count; i++)
        {
            if (i > 0)
            {
                b.Byte((byte)',');
            }

            var nestedFirst = true;
            b.Byte((byte)'{');
            String(b, ref nestedFirst, "\"field\":"u8, changes[i].Field);
            String(b, ref nestedFirst, "\"new\":"u8, changes[i].New);
            String(b, ref nestedFirst, "\"old\":"u8, changes[i].Old);
            b.Byte((byte)'}');
        }

        b.Byte((byte)']');
    }

    private static void Integer(CanonicalBuffer b, ref bool first, ReadOnlySpan<byte> name, long? value)
    {
        if (value is not { } number)
        {
            return;
        }

        Name(b, ref first, name);
        Utf8Formatter.TryFormat(number, b.Reserve(20), out var written);
        b.Advance(written);
    }

    private static void Time(CanonicalBuffer b, DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        var span = b.Reserve(29);
        span[0] = (byte)'"';
        Digits(span.Slice(1, 4), utc.Year);
        span[5] = (byte)'-';
        Digits(span.Slice(6, 2), utc.Month);
        span[8] = (byte)'-';
        Digits(span.Slice(9, 2), utc.Day);
        span[11] = (byte)'T';
        Digits(span.Slice(12, 2), utc.Hour);
        span[14] = (byte)':';
        Digits(span.Slice(15, 2), utc.Minute);
        span[17] = (byte)':';
        Digits(span.Slice(18, 2), utc.Second);
        span[20] = (byte)'.';
        Digits(span.Slice(21, 6), (int)(utc.Ticks % TimeSpan.TicksPerSecond / 10));
        span[27] = (byte)'Z';
        span[28] = (byte)'"';
        b.Advance(29);
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private static void Text(CanonicalBuffer b, string value)
    {
        var text = value.AsSpan(0, Math.Min(value.Length, MaxStringLength));
        b.Byte((byte)'"');
        while (!text.IsEmpty)
        {
            var escape = text.IndexOfAny(NeedsEscape);
            var plain = escape < 0 ? text : text[..escape];
            if (!plain.IsEmpty)
            {
                // Lone surrogates become U+FFFD, as Encoding.UTF8 does: the output is always valid UTF-8.
                var written = Encoding.UTF8.GetBytes(plain, b.Reserve(Encoding.UTF8.GetMaxByteCount(plain.Length)));
                b.Advance(written);
            }

            if (escape < 0)
            {
                break;
            }

            Escape(b, text[escape]);
            text = text[(escape + 1)..];
        }

        b.Byte((byte)'"');
    }

    private static void Escape(CanonicalBuffer b, char c)
    {
        switch (c)
        {
            case '"': b.Bytes("\\\""u8); break;
            case '\\': b.Bytes("\\\\"u8); break;
            case '\b': b.Bytes("\\b"u8); break;
            case '\t': b.Bytes("\\t"u8); break;
            case '\n': b.Bytes("\\n"u8); break;
            case '\f': b.Bytes("\\f"u8); break;
            case '\r': b.Bytes("\\r"u8); break;
            default:
                var span = b.Reserve(6);
                "\\u00"u8.CopyTo(span);
                span[4] = (byte)"0123456789abcdef"[c >> 4];
                span[5] = (byte)"0123456789abcdef"[c & 0xF];
                b.Advance(6);
                break;
        }
    }
}

/// <summary>A growable byte buffer the writer reuses between events (no per-event allocation but the result).</summary>
internal sealed class CanonicalBuffer(int capacity)
{
    private byte[] _bytes = new byte[capacity];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, Length);

    public byte[] Array => _bytes;

    public void Reset(int length = 0)
    {
        Reserve(length);
        Length = length;
    }

    public Span<byte> Reserve(int size)
    {
        if (Length + size > _bytes.Length)
        {
            System.Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, Length + size));
        }

        return _bytes.AsSpan(Length, size);
    }

    public void Advance(int count) => Length += count;

    public void Byte(byte value)
    {
        Reserve(1)[0] = value;
        Length++;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(Reserve(value.Length));
        Length += value.Length;
    }
}
