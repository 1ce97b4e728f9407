namespace Safeguard.Server.Authorize;

/// <summary>
/// The headers every page carries: a strict CSP (no script at all, except this origin's passkey script on the pages
/// that offer passkeys; never inline script; styles from this origin only; no framing; forms post only here and, on
/// pages that finish an authorization, to the client's redirect origin, which browsers enforce across the
/// redirect), no caching, no referrer, no sniffing.
/// </summary>
internal static class PageSecurity
{
    public static void Apply(HttpResponse response, string? formTargetOrigin, bool passkeyScript = false)
    {
        ArgumentNullException.ThrowIfNull(response);
        var formAction = formTargetOrigin is null ? "'self'" : "'self' " + formTargetOrigin;
        var script = passkeyScript ? "script-src 'self'; " : string.Empty;
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; {script}style-src 'self'; img-src 'self' data:; form-action {formAction}; frame-ancestors 'none'; base-uri 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        response.Headers.CacheControl = "no-cache, no-store"; // as anti-forgery requires (it would otherwise override it and log a warning)
        response.Headers.Pragma = "no-cache";
    }

    /// <summary>The origin of a redirect URI (<c>https://app.example:8443</c>), for <c>form-action</c>.</summary>
    public static string? OriginOf(string? uri) =>
        uri is not null && Uri.TryCreate(uri, UriKind.Absolute, out var parsed) ? parsed.GetLeftPart(UriPartial.Authority) : null;
}
