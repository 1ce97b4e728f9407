using System.Net;

namespace Safeguard.Server.Authorize;

/// <summary>
/// A plain error page for what cannot be sent back to a client (an unknown client or redirect URI, an expired
/// request): the message says what to do next and nothing about accounts.
/// </summary>
internal static class ErrorPage
{
    public static async Task WriteAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        PageSecurity.Apply(response, null);
        await response.WriteAsync(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + "<title>Safeguard: cannot continue</title><link rel=\"stylesheet\" href=\"/assets/site.css\"></head><body><main>"
            + "<h1>Cannot continue</h1><p role=\"alert\">" + WebUtility.HtmlEncode(message) + "</p></main></body></html>",
            context.RequestAborted).ConfigureAwait(false);
    }
}
