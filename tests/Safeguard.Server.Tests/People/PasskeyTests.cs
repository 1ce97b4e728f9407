using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Server.SignIn;

namespace Safeguard.Server.Tests.People;

/// <summary>What a passkey ceremony refuses before any signature is checked (the browser tests cover the ceremonies themselves).</summary>
public sealed class PasskeyTests
{
    [Fact]
    public async Task OnAnIpAddressIssuer_NoPasskeyIsOffered_AndThePagesAllowNoScript()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.False(server.Services.GetRequiredService<Passkeys>().Available);
        using var browser = new FormBrowser(server);

        var page = await browser.GetAsync("/signin");

        Assert.DoesNotContain("data-passkey", browser.LastPage, StringComparison.Ordinal);
        Assert.DoesNotContain("passkeys.js", browser.LastPage, StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnAHostNameIssuer_TheSignInPageOffersAPasskey_WithThisOriginsScriptOnly()
    {
        await using var server = await StartOnLocalhostAsync();
        using var browser = new FormBrowser(server);

        var page = await browser.GetAsync("/signin");

        Assert.Contains("data-passkey=\"get\"", browser.LastPage, StringComparison.Ordinal);
        Assert.Contains("autocomplete=\"username webauthn\"", browser.LastPage, StringComparison.Ordinal);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        var options = JsonDocument.Parse(WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(browser.LastPage!, "data-options=\"([^\"]+)\"").Groups[1].Value)).RootElement;
        Assert.Equal("localhost", options.GetProperty("rpId").GetString());
        Assert.Equal("required", options.GetProperty("userVerification").GetString());
        Assert.Equal(0, options.GetProperty("allowCredentials").GetArrayLength());
        var script = await browser.GetAsync("/assets/passkeys.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task ACeremony_ThatIsTampered_Expired_OrAnotherUsers_IsRefused()
    {
        await using var server = await StartOnLocalhostAsync();
        var passkeys = server.Services.GetRequiredService<Passkeys>();
        var (alice, _) = await server.AddUserAsync("alice", "amber meadow lantern copper");
        var (bob, _) = await server.AddUserAsync("bob", "amber meadow lantern copper");

        var registration = await passkeys.BeginRegistrationAsync(alice, CancellationToken.None);
        Assert.NotNull(registration);
        var options = JsonDocument.Parse(registration.OptionsJson).RootElement;
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("residentKey").GetString());
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("userVerification").GetString());
        Assert.Equal(alice.Subject, System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(options.GetProperty("user").GetProperty("id").GetString())));

        Assert.Contains("another user", (await passkeys.FinishRegistrationAsync(bob, registration.State, "{}", CancellationToken.None)).Reason, StringComparison.Ordinal);
        Assert.Contains("malformed", (await passkeys.FinishRegistrationAsync(alice, registration.State, "not json", CancellationToken.None)).Reason, StringComparison.Ordinal);
        var tampered = registration.State[..^4] + (registration.State[^4] == 'A' ? "B" : "A") + registration.State[^3..];
        Assert.False((await passkeys.FinishRegistrationAsync(alice, tampered, "{}", CancellationToken.None)).Succeeded);

        var signIn = passkeys.BeginSignIn(allowed: null)!;
        Assert.Contains("unknown", (await passkeys.FinishSignInAsync(registration.State, "{}", null, CancellationToken.None)).Reason, StringComparison.Ordinal); // a registration state is not a sign-in state
        var unknown = """{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"authenticatorData":"AAAA","signature":"AAAA","clientDataJSON":"AAAA","userHandle":"AAAA"},"clientExtensionResults":{}}""";
        Assert.Contains("no such passkey", (await passkeys.FinishSignInAsync(signIn.State, unknown, null, CancellationToken.None)).Reason, StringComparison.Ordinal);
        Assert.Contains("malformed", (await passkeys.FinishSignInAsync(signIn.State, new string('x', 70_000), null, CancellationToken.None)).Reason, StringComparison.Ordinal);

        server.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Contains("expired", (await passkeys.FinishSignInAsync(signIn.State, unknown, null, CancellationToken.None)).Reason, StringComparison.Ordinal);
        Assert.False((await passkeys.FinishRegistrationAsync(alice, registration.State, "{}", CancellationToken.None)).Succeeded);
    }

    private static async Task<RunningServer> StartOnLocalhostAsync() =>
        (await RunningServer.StartOnFreePortAsync(port => [$"--Safeguard:Listen=https://127.0.0.1:{port}", $"--Safeguard:Issuer=https://localhost:{port}"])).Server;
}
