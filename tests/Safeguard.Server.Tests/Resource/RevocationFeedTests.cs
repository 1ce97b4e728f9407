using System.Diagnostics;
using System.Net;
using System.Security.Claims;
using System.Text.Json;
using Duende.IdentityModel.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Safeguard.AspNetCore;
using Safeguard.Audit;
using Safeguard.Server.Tests.People;
using Safeguard.Sessions;

namespace Safeguard.Server.Tests.Resource;

/// <summary>
/// The revocation feed end to end: a sample API following the real server's feed refuses a revoked token and the
/// tokens of an ended session within 2 seconds, and once the feed has been unreachable past its bound refuses tokens
/// issued before the outage, its health check saying so.
/// </summary>
public sealed class RevocationFeedTests : IAsyncLifetime
{
    private const string RedirectUri = "https://chart.example.org/callback";
    private const string Password = "correct horse battery staple 42";

    private RunningServer _server = null!;
    private SampleApi _api = null!;
    private string _secret = null!;
    private string? _chartAppSecret;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("ward-app", scopes: ["patient.read"], resources: [SampleApi.Audience]))!;
        var feedSecret = (await _server.AddClientAsync("api-feed", scopes: ["patient.read"], resources: [SampleApi.Audience], introspect: [SampleApi.Audience]))!;
        _api = await SampleApi.StartAsync(
            _server,
            builder =>
            {
                builder.Services.AddAuthorizationBuilder().AddPolicy("read", p => p.RequireScopes("patient.read"));
                builder.Services.AddHealthChecks().AddSafeguardJwt("ready");
            },
            app => app.MapGet("/patients/{id}", (ClaimsPrincipal user) => user.FindFirstValue("sub")).RequireAuthorization("read"),
            jwt: o =>
            {
                o.RevocationFeedClientId = "api-feed";
                o.RevocationFeedClientSecret = feedSecret;
                o.RevocationFeedOutageBound = TimeSpan.FromSeconds(2);
            });
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task ARevokedToken_IsRefusedWithin2Seconds()
    {
        var token = await SampleApi.TokenAsync(_server, "ward-app", _secret, "patient.read");
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/patients/1", token)).StatusCode);
        await FeedCurrentAsync();

        var revoked = await _server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = _server.Issuer + "/revoke", ClientId = "ward-app", ClientSecret = _secret, Token = token });
        Assert.False(revoked.IsError);
        var elapsed = await RefusedWithinAsync(token, TimeSpan.FromSeconds(2));

        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"refused after {elapsed}");
        Assert.Equal(SafeguardErrorCodes.TokenRevoked, await LastDenialAsync());
    }

    [Fact]
    public async Task TheTokensOfAnEndedSession_AreRefusedWithin2Seconds_WhileAnotherUsersStillPass()
    {
        _chartAppSecret = await _server.AddCodeFlowClientAsync("chart-app", RedirectUri, scopes: ["patient.read"]);
        var (ended, sid) = await SignInAsync("nurse.one");
        var (other, _) = await SignInAsync("nurse.two");
        Assert.True(HttpStatusCode.OK == (await _api.GetAsync("/patients/1", ended)).StatusCode, await LastDenialAsync());

        Assert.True(await _server.Services.GetRequiredService<SessionManager>().EndAsync(sid, "admin", CancellationToken.None));
        var elapsed = await RefusedWithinAsync(ended, TimeSpan.FromSeconds(2));

        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"refused after {elapsed}");
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/patients/1", other)).StatusCode);
    }

    [Fact]
    public async Task PastTheOutageBound_TokensIssuedBeforeTheOutageAreRefused_AndTheHealthCheckSaysSo()
    {
        var token = await SampleApi.TokenAsync(_server, "ward-app", _secret, "patient.read");
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/patients/1", token)).StatusCode);
        var health = _api.App.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        await _server.DisposeAsync();
        _server = await RunningServer.StartAsync(); // the old authority's address answers nothing now

        await Task.Delay(TimeSpan.FromSeconds(3));
        var refused = await _api.GetAsync("/patients/1", token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(SafeguardErrorCodes.TokenRevocationUnknown, await LastDenialAsync());
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);
    }

    /// <summary>Waits until the API has read the feed once (it starts with the host).</summary>
    private async Task FeedCurrentAsync()
    {
        var health = _api.App.Services.GetRequiredService<HealthCheckService>();
        HealthReport report = null!;
        for (var i = 0; i < 100; i++)
        {
            report = await health.CheckHealthAsync();
            if (_api.App.Services.GetRequiredService<SafeguardJwtAuthorities>().RevocationFeedsCurrent().Current && report.Status == HealthStatus.Healthy)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail(report.Entries.Single().Value.Description);
    }

    /// <summary>The reason of the API's latest refusal, once it is committed (refusals are queued).</summary>
    private async Task<string?> LastDenialAsync()
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await _api.AuditEventsAsync()).LastOrDefault(e => e.Type == AuditEventType.PhiAccessDenied) is { } denied)
            {
                return denied.Reason;
            }

            await Task.Delay(50);
        }

        return null;
    }

    /// <summary>Calls the API every 50 ms until it refuses the token; how long that took.</summary>
    private async Task<TimeSpan> RefusedWithinAsync(string token, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit + TimeSpan.FromSeconds(3))
        {
            if ((await _api.GetAsync("/patients/1", token)).StatusCode == HttpStatusCode.Unauthorized)
            {
                return watch.Elapsed;
            }

            await Task.Delay(50);
        }

        return TimeSpan.MaxValue;
    }

    private async Task<(string AccessToken, string SessionId)> SignInAsync(string username)
    {
        var (_, totp) = await _server.AddUserAsync(username, Password);
        var (verifier, challenge) = FormBrowser.Pkce();
        using var browser = new FormBrowser(_server);
        var back = await browser.SignInThroughAsync(
            $"/authorize?response_type=code&client_id=chart-app&redirect_uri={Uri.EscapeDataString(RedirectUri)}&scope=patient.read&resource={Uri.EscapeDataString(SampleApi.Audience)}&code_challenge={challenge}&code_challenge_method=S256",
            username, Password, () => _server.TotpCode(totp!));
        var code = FormBrowser.QueryOf(back.Headers.Location!)["code"];
        using var http = _server.CreateClient();
        var response = await http.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = _server.TokenEndpoint, ClientId = "chart-app", ClientSecret = _chartAppSecret, Code = code, RedirectUri = RedirectUri, CodeVerifier = verifier,
            Resource = { SampleApi.Audience },
        });
        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        using var payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(response.AccessToken!.Split('.')[1]));
        return (response.AccessToken!, payload.RootElement.GetProperty("sid").GetString()!);
    }

}
