using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Safeguard.Server.Tests.People;

/// <summary>Pushed authorization requests (RFC 9126) over the real server.</summary>
public sealed class PushedAuthorizationTests : IAsyncLifetime
{
    private const string RedirectUri = "https://app.example.org/callback";
    private const string Password = "copper lantern orchard meadow";

    private RunningServer _server = null!;
    private string _secret = null!;
    private string _strictSecret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddCodeFlowClientAsync("chart-app", RedirectUri))!;
        _strictSecret = (await _server.AddCodeFlowClientAsync("strict-app", RedirectUri, requirePar: true))!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task APushedRequest_SignsInThroughItsRequestUri_Once()
    {
        var (_, totp) = await _server.AddUserAsync("jsmith", Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        var (status, json) = await PushAsync("chart-app", _secret, Request(challenge, state: "pushed-state"));
        Assert.Equal(HttpStatusCode.Created, status);
        var requestUri = json.GetProperty("request_uri").GetString()!;
        Assert.StartsWith("urn:ietf:params:oauth:request_uri:", requestUri, StringComparison.Ordinal);
        Assert.Equal(90, json.GetProperty("expires_in").GetInt32());

        using var browser = new FormBrowser(_server);
        // Parameters beside request_uri are ignored: the pushed ones count.
        var back = await browser.SignInThroughAsync($"/authorize?client_id=chart-app&request_uri={Uri.EscapeDataString(requestUri)}&scope=other&state=tampered", "jsmith", Password, () => _server.TotpCode(totp!));
        Assert.Equal(HttpStatusCode.SeeOther, back.StatusCode);
        var query = FormBrowser.QueryOf(back.Headers.Location!);
        Assert.Equal("pushed-state", query["state"]);
        var tokens = await RedeemAsync(query["code"], verifier);
        Assert.True(tokens.TryGetProperty("access_token", out _), tokens.ToString());

        var again = await browser.GetAsync($"/authorize?client_id=chart-app&redirect_uri={Uri.EscapeDataString(RedirectUri)}&request_uri={Uri.EscapeDataString(requestUri)}");
        Assert.Equal("invalid_request_uri", FormBrowser.QueryOf(again.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task ARequestUri_ExpiresAfter90Seconds_AndIsNoSignInPageRequest()
    {
        var (_, json) = await PushAsync("chart-app", _secret, Request(FormBrowser.Pkce().Challenge));
        var requestUri = json.GetProperty("request_uri").GetString()!;
        using var browser = new FormBrowser(_server);

        await browser.GetAsync("/signin?request=" + Uri.EscapeDataString(requestUri["urn:ietf:params:oauth:request_uri:".Length..]));
        Assert.Contains("has expired", browser.LastPage, StringComparison.Ordinal);

        _server.Time.Advance(TimeSpan.FromSeconds(91));
        var late = await browser.GetAsync($"/authorize?client_id=chart-app&redirect_uri={Uri.EscapeDataString(RedirectUri)}&request_uri={Uri.EscapeDataString(requestUri)}");
        Assert.Equal("invalid_request_uri", FormBrowser.QueryOf(late.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task AnotherClientsRequestUri_IsRefused_AndAClientThatRequiresParCannotSkipIt()
    {
        var (_, json) = await PushAsync("chart-app", _secret, Request(FormBrowser.Pkce().Challenge));
        using var browser = new FormBrowser(_server);

        var stolen = await browser.GetAsync($"/authorize?client_id=strict-app&redirect_uri={Uri.EscapeDataString(RedirectUri)}&request_uri={Uri.EscapeDataString(json.GetProperty("request_uri").GetString()!)}");
        Assert.Equal("invalid_request_uri", FormBrowser.QueryOf(stolen.Headers.Location!)["error"]);

        var direct = await browser.GetAsync("/authorize?" + string.Join('&', Request(FormBrowser.Pkce().Challenge, clientId: "strict-app").Select(p => p.Key + "=" + Uri.EscapeDataString(p.Value))));
        var error = FormBrowser.QueryOf(direct.Headers.Location!);
        Assert.Equal("invalid_request", error["error"]);
        Assert.Contains("push", error["error_description"], StringComparison.Ordinal);

        var (pushed, _) = await PushAsync("strict-app", _strictSecret, Request(FormBrowser.Pkce().Challenge, clientId: "strict-app"));
        Assert.Equal(HttpStatusCode.Created, pushed);
    }

    [Fact]
    public async Task APushedRequest_IsCheckedLikeAnAuthorizationRequest_AndTheClientAuthenticates()
    {
        var noPkce = Request(FormBrowser.Pkce().Challenge);
        noPkce.Remove("code_challenge");
        var (status, json) = await PushAsync("chart-app", _secret, noPkce);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request", json.GetProperty("error").GetString());

        var wrongRedirect = Request(FormBrowser.Pkce().Challenge);
        wrongRedirect["redirect_uri"] = "https://evil.example/cb";
        Assert.Equal(HttpStatusCode.BadRequest, (await PushAsync("chart-app", _secret, wrongRedirect)).Status);

        var withRequestObject = Request(FormBrowser.Pkce().Challenge);
        withRequestObject["request"] = "eyJhbGciOiJub25lIn0.e30.";
        Assert.Equal("request_not_supported", (await PushAsync("chart-app", _secret, withRequestObject)).Json.GetProperty("error").GetString());

        Assert.Equal(HttpStatusCode.Unauthorized, (await PushAsync("chart-app", "wrong-secret", Request(FormBrowser.Pkce().Challenge))).Status);

        using var http = _server.CreateClient();
        using var discovery = JsonDocument.Parse(await http.GetStringAsync("/.well-known/openid-configuration"));
        Assert.Equal(_server.Issuer + "/par", discovery.RootElement.GetProperty("pushed_authorization_request_endpoint").GetString());
    }

    private static Dictionary<string, string> Request(string challenge, string clientId = "chart-app", string state = "s") => new()
    {
        ["client_id"] = clientId,
        ["response_type"] = "code",
        ["redirect_uri"] = RedirectUri,
        ["scope"] = "openid patient.read",
        ["state"] = state,
        ["code_challenge"] = challenge,
        ["code_challenge_method"] = "S256",
    };

    private async Task<(HttpStatusCode Status, JsonElement Json)> PushAsync(string clientId, string secret, Dictionary<string, string> form)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/par") { Content = new FormUrlEncodedContent(form) };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":" + secret)));
        var response = await http.SendAsync(message);
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body.Length == 0 ? "{}" : body);
        return (response.StatusCode, json.RootElement.Clone());
    }

    private async Task<JsonElement> RedeemAsync(string code, string verifier)
    {
        using var http = _server.CreateClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier }),
        };
        message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("chart-app:" + _secret)));
        var response = await http.SendAsync(message);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.Clone();
    }
}
