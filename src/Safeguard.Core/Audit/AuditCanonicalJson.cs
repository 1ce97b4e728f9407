using System.Buffers;
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

    /// <summary>Writes the canonical form of <paramref name="e"/>.</summary>
    /// <param name="e">The event, with chain and sequence set.</param>
    /// <param name="output">Where the UTF-8 bytes go.</param>
    public static void Write(AuditEvent e, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(output);
        var w = new Writer(output);
        w.Raw((byte)'{');

        // Member names in RFC 8785 order (ordinal on UTF-16 code units; all names are ASCII).
        w.String("acr", e.Acr);
        w.String("action", e.Action is { } action ? AuditEventTypes.WireName(action) : null);
        w.String("actor", e.Actor);
        w.Strings("amr", e.Amr);
        w.String("chain", e.Chain);
        w.Changes("changes", e.Changes);
        w.String("client_id", e.ClientId);
        w.String("cnf", e.ConfirmationThumbprint);
        w.String("correlation_id", e.CorrelationId);
        w.True("emergency", e.Emergency);
        w.String("event_id", e.EventId);
        w.Integer("http_status", e.HttpStatus);
        w.String("jti", e.TokenId);
        w.String("node_id", e.NodeId);
        w.String("outcome", AuditEventTypes.WireName(e.Outcome));
        w.String("patient_id", e.PatientId);
        w.String("purpose_of_use", e.PurposeOfUse);
        w.String("reason", e.Reason);
        w.String("resource_id", e.ResourceId);
        w.String("resource_type", e.ResourceType);
        w.Integer("seq", e.Sequence);
        w.String("sid", e.SessionId);
        w.String("source_ip", e.SourceIp);
        w.String("sub", e.Subject);
        w.String("time", FormatTime(e.Time));
        w.String("type", AuditEventTypes.WireName(e.Type));
        w.String("user_agent", e.UserAgent);
        w.Raw((byte)'}');
    }

    /// <summary>The canonical form as a new array.</summary>
    /// <param name="e">The event.</param>
    /// <returns>UTF-8 bytes.</returns>
    public static byte[] ToBytes(AuditEvent e)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        Write(e, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The canonical time format: <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c> in UTC.</summary>
    /// <param name="time">A time.</param>
    /// <returns>The text.</returns>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private ref struct Writer(IBufferWriter<byte> output)
    {
        private bool _first = true;

        public void Raw(byte b)
        {
            output.GetSpan(1)[0] = b;
            output.Advance(1);
        }

        public void String(string name, string? value)
        {
            if (value is null)
            {
                return;
            }

            Name(name);
            Text(value);
        }

        public void Strings(string name, IReadOnlyList<string> values)
        {
            if (values.Count == 0)
            {
                return;
            }

            Name(name);
            Raw((byte)'[');
            for (var i = 0; i < values.Count; i++)
            {
                if (i > 0)
                {
                    Raw((byte)',');
                }

                Text(values[i] ?? string.Empty);
            }

            Raw((byte)']');
        }

        public void Changes(string name, IReadOnlyList<AuditChange> changes)
        {
            if (changes.Count == 0)
            {
                return;
            }

            Name(name);
            Raw((byte)'[');
            for (var i = 0; i < changes.Count; i++)
            {
                if (i > 0)
                {
                    Raw((byte)',');
                }

                var nested = new Writer(output);
                nested.Raw((byte)'{');
                nested.String("field", changes[i].Field);
                nested.String("new", changes[i].New);
                nested.String("old", changes[i].Old);
                nested.Raw((byte)'}');
            }

            Raw((byte)']');
        }

        public void True(string name, bool value)
        {
            if (!value)
            {
                return;
            }

            Name(name);
            Ascii("true");
        }

        public void Integer(string name, long? value)
        {
            if (value is not { } number)
            {
                return;
            }

            Name(name);
            var span = output.GetSpan(20);
            number.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
            output.Advance(written);
        }

        private void Name(string name)
        {
            if (!_first)
            {
                Raw((byte)',');
            }

            _first = false;
            Raw((byte)'"');
            Ascii(name);
            Raw((byte)'"');
            Raw((byte)':');
        }

        private void Ascii(string text)
        {
            var span = output.GetSpan(text.Length);
            Encoding.ASCII.GetBytes(text, span);
            output.Advance(text.Length);
        }

        private void Text(string value)
        {
            var text = value.Length > MaxStringLength ? value[..MaxStringLength] : value;
            Raw((byte)'"');
            var start = 0;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c >= 0x20 && c != '"' && c != '\\')
                {
                    continue;
                }

                Utf8(text.AsSpan(start, i - start));
                Escape(c);
                start = i + 1;
            }

            Utf8(text.AsSpan(start));
            Raw((byte)'"');
        }

        private void Utf8(ReadOnlySpan<char> chars)
        {
            if (chars.IsEmpty)
            {
                return;
            }

            // Lone surrogates become U+FFFD, as Encoding.UTF8 does: the output is always valid UTF-8.
            var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(chars.Length));
            var written = Encoding.UTF8.GetBytes(chars, span);
            output.Advance(written);
        }

        private void Escape(char c)
        {
            switch (c)
            {
                case '"': Ascii("\\\""); break;
                case '\\': Ascii("\\\\"); break;
                case '\b': Ascii("\\b"); break;
                case '\t': Ascii("\\t"); break;
                case '\n': Ascii("\\n"); break;
                case '\f': Ascii("\\f"); break;
                case '\r': Ascii("\\r"); break;
                default: Ascii("\\u00" + ((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
            }
        }
    }
}
