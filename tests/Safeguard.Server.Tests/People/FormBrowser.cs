using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Safeguard.Server.Tests.People;

/// <summary>
/// A cookie-keeping HTTP client that walks the sign-in pages like a browser without script would: it reads each
/// page's anti-forgery field and posts the forms. Redirects are not followed, so each hop can be checked. The
/// browser-driven tests (Chromium) cover the same flow end to end.
/// </summary>
internal sealed partial class FormBrowser : IDisposable
{
    private readonly HttpClient _http;

    public FormBrowser(RunningServer server)
    {
        Cookies = new CookieContainer();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            CookieContainer = Cookies,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == server.ServerCertificate.GetCertHashString(),
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri(server.ListenAddress) };
    }

    public CookieContainer Cookies { get; }

    public string? LastPage { get; private set; }

    public async Task<HttpResponseMessage> GetAsync(string url)
    {
        var response = await _http.GetAsync(url);
        LastPage = await response.Content.ReadAsStringAsync();
        return response;
    }

    /// <summary>Posts a form to <paramref name="url"/> with the anti-forgery field of the last page read.</summary>
    public async Task<HttpResponseMessage> PostAsync(string url, params (string Name, string? Value)[] fields)
    {
        var values = fields.Where(f => f.Value is not null).Select(f => new KeyValuePair<string, string>(f.Name, f.Value!)).ToList();
        if (LastPage is not null && AntiforgeryField().Match(LastPage) is { Success: true } match)
        {
            values.Add(new("__af", WebUtility.HtmlDecode(match.Groups[1].Value)));
        }

        var response = await _http.PostAsync(url, new FormUrlEncodedContent(values));
        LastPage = await response.Content.ReadAsStringAsync();
        return response;
    }

    /// <summary>
    /// From an authorization request to the redirect back to the client: sign in with the password, then the TOTP
    /// code (when given). Returns the final response (its Location carries code or error).
    /// </summary>
    public async Task<HttpResponseMessage> SignInThroughAsync(string authorizeUrl, string username, string password, Func<string>? totpCode)
    {
        var authorize = await GetAsync(authorizeUrl);
        if (authorize.StatusCode != HttpStatusCode.SeeOther || authorize.Headers.Location!.OriginalString.StartsWith("/signin", StringComparison.Ordinal) is false)
        {
            return authorize;
        }

        var signInUrl = authorize.Headers.Location!.OriginalString;
        await GetAsync(signInUrl);
        var requestId = Uri.UnescapeDataString(signInUrl[(signInUrl.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        var password1 = await PostAsync("/signin", ("request", requestId), ("username", username), ("password", password));
        if (totpCode is null || password1.StatusCode != HttpStatusCode.Redirect)
        {
            return password1;
        }

        await GetAsync("/signin/mfa");
        return await PostAsync("/signin/mfa", ("code", totpCode()));
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A PKCE verifier and its S256 challenge.</summary>
    public static (string Verifier, string Challenge) Pkce()
    {
        var verifier = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (verifier, System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    /// <summary>The query parameters of a redirect back to the client.</summary>
    public static Dictionary<string, string> QueryOf(Uri location) => location.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
        .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]), StringComparer.Ordinal);

    [GeneratedRegex("name=\"__af\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
