namespace Safeguard.Server.SignIn;

/// <summary>
/// The pages' one stylesheet, served from this origin (the CSP allows styles from 'self' only; no third-party
/// assets, no script). Large touch targets, visible focus, text contrast above 7:1, one column on a phone.
/// </summary>
internal static class PageAssets
{
    public const string StylesheetPath = "/assets/site.css";

    private const string Stylesheet = """
        :root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --accent: #0b4f8a; --error: #8a1111; --line: #767676; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 1.0625rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
        header { padding: 0.75rem 1rem; border-bottom: 1px solid #d0d0d0; }
        .brand { margin: 0; font-weight: 700; color: var(--accent); }
        main { max-width: 28rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
        h1 { font-size: 1.5rem; margin: 0 0 1rem; }
        label { display: block; font-weight: 600; margin: 1rem 0 0.25rem; }
        input { width: 100%; font: inherit; padding: 0.65rem 0.75rem; border: 2px solid var(--line); border-radius: 0.375rem; }
        button, .button { display: inline-block; margin-top: 1.25rem; min-height: 2.75rem; padding: 0.6rem 1.25rem; font: inherit; font-weight: 600;
            color: #fff; background: var(--accent); border: 0; border-radius: 0.375rem; text-decoration: none; cursor: pointer; }
        input:focus, button:focus, a:focus { outline: 3px solid #ffbf47; outline-offset: 2px; }
        a { color: var(--accent); }
        .error { color: var(--error); border-left: 4px solid var(--error); padding: 0.5rem 0.75rem; background: #fdf2f2; }
        code { font: 1rem/1.4 ui-monospace, "Cascadia Mono", Menlo, Consolas, monospace; word-break: break-all; }
        .qr { display: block; margin: 1rem 0; image-rendering: pixelated; }
        .codes { padding-left: 1.25rem; columns: 2; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: 0.5rem; background: #fff; padding: 0.25rem 0.5rem; }
        """;

    public static Task WriteStylesheetAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = "text/css; charset=utf-8";
        context.Response.Headers.CacheControl = "public, max-age=3600";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(Stylesheet, context.RequestAborted);
    }
}
