using System.Diagnostics.CodeAnalysis;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Safeguard.Server.OAuth;

/// <summary>
/// A form-encoded OAuth request body, read strictly: <c>application/x-www-form-urlencoded</c> in UTF-8 only, within
/// the size limits, and no parameter more than once (RFC 6749 section 3.2) except those defined as repeatable
/// (<c>resource</c>, RFC 8707). Parameters sent without a value count as omitted (RFC 6749 section 3.1).
/// </summary>
internal sealed class OAuthForm
{
    private static readonly FormOptions Limits = new()
    {
        ValueCountLimit = 32,
        KeyLengthLimit = 64,
        ValueLengthLimit = 8192,
        BufferBody = false,
    };

    private readonly Dictionary<string, string> _single;
    private readonly List<string> _resources;

    private OAuthForm(Dictionary<string, string> single, List<string> resources)
    {
        _single = single;
        _resources = resources;
    }

    /// <summary>The <c>resource</c> values (RFC 8707), in order.</summary>
    public IReadOnlyList<string> Resources => _resources;

    /// <summary>A parameter's value, or null when absent or empty.</summary>
    public string? this[string name] => _single.TryGetValue(name, out var value) ? value : null;

    /// <summary>Reads and checks the body. On failure the result says why, with status 400 or 413.</summary>
    public static async Task<OAuthFormResult> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return OAuthFormResult.Failure("The request body must be application/x-www-form-urlencoded.", StatusCodes.Status400BadRequest);
        }

        if (contentType.Charset.HasValue && !contentType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return OAuthFormResult.Failure("The request body must be UTF-8.", StatusCodes.Status400BadRequest);
        }

        IFormCollection collection;
        try
        {
            collection = await request.ReadFormAsync(Limits, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return OAuthFormResult.Failure("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException or DecoderFallbackException or IOException)
        {
            return OAuthFormResult.Failure("The request body is not a valid form.", StatusCodes.Status400BadRequest);
        }

        var single = new Dictionary<string, string>(collection.Count, StringComparer.Ordinal);
        var resources = new List<string>();
        foreach (var (name, values) in collection)
        {
            if (name == "resource")
            {
                foreach (var value in values)
                {
                    if (!string.IsNullOrEmpty(value))
                    {
                        resources.Add(value);
                    }
                }

                continue;
            }

            if (values.Count > 1)
            {
                return OAuthFormResult.Failure($"The parameter '{Printable(name)}' is repeated.", StatusCodes.Status400BadRequest);
            }

            if (!string.IsNullOrEmpty(values[0]))
            {
                single[name] = values[0]!;
            }
        }

        return OAuthFormResult.Success(new OAuthForm(single, resources));
    }

    private static string Printable(string name) =>
        name.Length <= 64 && name.All(c => c is >= ' ' and <= '~' && c is not '"' and not '\\') ? name : "(unprintable)";
}

/// <summary>The outcome of reading a form. <c>default</c> is a failure (400) with a generic reason.</summary>
internal readonly struct OAuthFormResult
{
    private readonly string? _error;
    private readonly int _status;

    private OAuthFormResult(OAuthForm? form, string? error, int status)
    {
        Form = form;
        _error = error;
        _status = status;
    }

    /// <summary>True when the body was read.</summary>
    [MemberNotNullWhen(true, nameof(Form))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => Form is not null;

    /// <summary>The form; null unless valid.</summary>
    public OAuthForm? Form { get; }

    /// <summary>Why the body was refused; null when valid.</summary>
    public string? Error => IsValid ? null : _error ?? "The request body could not be read.";

    /// <summary>The status to answer a refused body with: 400, or 413 for one too large.</summary>
    public int Status => IsValid ? StatusCodes.Status200OK : _status == 0 ? StatusCodes.Status400BadRequest : _status;

    internal static OAuthFormResult Success(OAuthForm form) => new(form, null, 0);

    internal static OAuthFormResult Failure(string error, int status) => new(null, error, status);
}
