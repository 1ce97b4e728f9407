namespace Safeguard.Server.SignIn;

/// <summary>
/// The pages' one stylesheet, served from this origin (the CSP allows styles from 'self' only; no third-party
/// assets, no script). Large touch targets, visible focus, text contrast above 7:1, one column on a phone.
/// </summary>
internal static class PageAssets
{
    public const string StylesheetPath = "/assets/site.css";
    public const string PasskeyScriptPath = "/assets/passkeys.js";

    /// <summary>
    /// The one script, for passkeys only (pages without a passkey form allow no script at all). A form marked
    /// <c>data-passkey="get"</c> or <c>"create"</c> carries the ceremony's options (JSON) in <c>data-options</c>; on
    /// submit the browser's WebAuthn call runs and its result goes in the <c>passkeyResponse</c> field before the form
    /// posts as usual (with its anti-forgery field). The forms stay hidden where WebAuthn is missing. On the sign-in
    /// page a passkey is also offered in the username field's autofill (conditional mediation), cancelled when the
    /// button is used.
    /// </summary>
    private const string PasskeyScript = """
        "use strict";
        (() => {
          const pkc = window.PublicKeyCredential;
          if (!pkc || !pkc.parseRequestOptionsFromJSON || !pkc.parseCreationOptionsFromJSON) { return; }
          let pending = null;
          const run = async (form, mediation) => {
            const options = JSON.parse(form.dataset.options);
            const status = form.querySelector("[role=status]");
            if (pending) { pending.abort(); }
            const controller = mediation ? new AbortController() : null;
            pending = controller;
            try {
              const credential = form.dataset.passkey === "create"
                ? await navigator.credentials.create({ publicKey: pkc.parseCreationOptionsFromJSON(options) })
                : await navigator.credentials.get(mediation
                    ? { publicKey: pkc.parseRequestOptionsFromJSON(options), mediation, signal: controller.signal }
                    : { publicKey: pkc.parseRequestOptionsFromJSON(options) });
              if (!credential) { return; }
              form.querySelector("input[name=passkeyResponse]").value = JSON.stringify(credential.toJSON());
              form.submit();
            } catch (error) {
              if (error && error.name === "AbortError") { return; }
              if (status) { status.textContent = "The passkey was not used. Try again, or use another way to continue."; }
            }
          };
          for (const form of document.querySelectorAll("form[data-passkey]")) {
            form.hidden = false;
            form.addEventListener("submit", (event) => { event.preventDefault(); run(form, null); });
            if (form.dataset.conditional === "true" && pkc.isConditionalMediationAvailable) {
              pkc.isConditionalMediationAvailable().then((available) => { if (available) { run(form, "conditional"); } });
            }
          }
        })();
        """;

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
        .secondary { color: var(--accent); background: #fff; border: 2px solid var(--accent); }
        .or { margin: 1.5rem 0 0; color: var(--muted); }
        table { width: 100%; border-collapse: collapse; margin: 0.5rem 0 1rem; }
        th, td { text-align: left; padding: 0.4rem 0.25rem; border-bottom: 1px solid #d0d0d0; vertical-align: top; overflow-wrap: anywhere; }
        h2 { font-size: 1.2rem; margin: 1.75rem 0 0.5rem; }
        td form button { margin-top: 0; min-height: 2.25rem; padding: 0.3rem 0.75rem; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: 0.5rem; background: #fff; padding: 0.25rem 0.5rem; }
        """;

    public static Task WritePasskeyScriptAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = "text/javascript; charset=utf-8";
        context.Response.Headers.CacheControl = "public, max-age=3600";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(PasskeyScript, context.RequestAborted);
    }

    public static Task WriteStylesheetAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = "text/css; charset=utf-8";
        context.Response.Headers.CacheControl = "public, max-age=3600";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(Stylesheet, context.RequestAborted);
    }
}
