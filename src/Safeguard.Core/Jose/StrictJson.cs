using System.Text.Json;

namespace Safeguard.Jose;

/// <summary>
/// The JSON rules of every JWS header and payload (RFC 8725 section 3.7, validate all layers): one object, no
/// comments or trailing commas, nesting at most <see cref="MaxDepth"/>, no member name twice at any depth (escaped
/// or not), and no string that does not decode to valid UTF-16 (a lone surrogate such as <c>"\udc00"</c>).
/// </summary>
internal static class StrictJson
{
    /// <summary>The deepest nesting accepted.</summary>
    public const int MaxDepth = 8;

    /// <summary>Reader options for every JWS segment.</summary>
    public static JsonReaderOptions ReaderOptions { get; } = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Document options for segments read into a <see cref="JsonDocument"/> after <see cref="Validate"/>.</summary>
    public static JsonDocumentOptions DocumentOptions { get; } = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        AllowDuplicateProperties = false,
    };

    /// <summary>Checks a whole segment: one object, every rule above. Never throws.</summary>
    /// <param name="json">The decoded UTF-8.</param>
    /// <returns>The first rule broken, or <see cref="JwsError.None"/>.</returns>
    public static JwsError Validate(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return JwsError.Malformed;
            }

            if (!SkipRejectingDuplicates(ref reader))
            {
                return JwsError.DuplicateMember;
            }

            return reader.Read() ? JwsError.Malformed : JwsError.None;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a \u escape naming a lone surrogate (GetString refuses it).
            return JwsError.Malformed;
        }
    }

    /// <summary>Skips the current value; false if any object inside names a member twice. Every string is decoded, so a lone surrogate throws.</summary>
    /// <param name="reader">Positioned on the value's first token.</param>
    /// <returns>False on a duplicate member.</returns>
    public static bool SkipRejectingDuplicates(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (!SkipRejectingDuplicates(ref reader))
                {
                    return false;
                }
            }

            return true;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            _ = reader.GetString();
            return true;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return true;
        }

        List<string>? names = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            names ??= new List<string>(4);
            if (names.Contains(name, StringComparer.Ordinal))
            {
                return false;
            }

            names.Add(name);
            reader.Read();
            if (!SkipRejectingDuplicates(ref reader))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads a string value; false for any other JSON type.</summary>
    public static bool TryReadString(ref Utf8JsonReader reader, out string? value)
    {
        value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return value is not null;
    }

    /// <summary>Reads an array of strings; false for anything else.</summary>
    public static bool TryReadStringArray(ref Utf8JsonReader reader, out IReadOnlyList<string>? values)
    {
        values = null;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        var list = new List<string>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                return false;
            }

            list.Add(reader.GetString()!);
        }

        values = list;
        return true;
    }

    /// <summary>Reads a string or an array of strings (<c>aud</c>, <c>roles</c>).</summary>
    public static bool TryReadStringOrArray(ref Utf8JsonReader reader, out IReadOnlyList<string>? values)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            values = [reader.GetString()!];
            return true;
        }

        return TryReadStringArray(ref reader, out values);
    }

    /// <summary>The string member <paramref name="name"/> of an object, or null when absent or not a string.</summary>
    public static string? GetString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
