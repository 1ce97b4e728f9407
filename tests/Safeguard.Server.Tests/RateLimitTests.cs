using System.Net;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Server.Configuration;
using Safeguard.Server.Diagnostics;
using Safeguard.Server.OAuth;

namespace Safeguard.Server.Tests;

/// <summary>Anonymous floods: rate limits before anything reads the request, summarised refusals, a cheap /readyz.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task OverTheLimit_Gets429WithRetryAfter_BeforeTheRequestIsRead_AndTheRefusalsAreSummarised()
    {
        await using var server = await RunningServer.StartAsync(extra: ["--Safeguard:RateLimits:PerAddressPerSecond=1", "--Safeguard:RateLimits:PerAddressBurst=3"]);
        using var http = server.CreateClient();
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 12; i++)
        {
            var response = await http.PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited ??= response;
            }
        }

        // The bucket refills one a second in real time: a slow machine may let one more through.
        var tooMany = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
        Assert.InRange(tooMany, 7, 9);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.TooManyRequests or HttpStatusCode.Unauthorized, s.ToString()));
        Assert.NotNull(limited);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("temporarily_unavailable", JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());

        // Load balancers' probes and the management endpoint are never limited.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        using var management = server.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/readyz")).StatusCode);

        // One refusal of each kind is recorded on its own at once; the rest come as one summary with a count when the
        // window (a minute) ends.
        var before = await server.AuditEventsAsync();
        Assert.Single(before, e => e.Reason!.StartsWith(SafeguardErrorCodes.RateLimited, StringComparison.Ordinal));
        Assert.Single(before, e => e.Reason!.StartsWith(SafeguardErrorCodes.ClientAuthenticationMissing, StringComparison.Ordinal));
        server.Time.Advance(TimeSpan.FromSeconds(61));
        await server.SyncAsync();
        await server.Services.GetRequiredServiceOf<AuditWriter>().StopAsync();

        var after = await server.AuditEventsAsync();
        var rateLimited = after.Where(e => e.Reason!.StartsWith(SafeguardErrorCodes.RateLimited, StringComparison.Ordinal)).ToList();
        var unauthenticated = after.Where(e => e.Reason!.StartsWith(SafeguardErrorCodes.ClientAuthenticationMissing, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rateLimited.Count);
        Assert.Equal(AuditEventType.TransportRefused, rateLimited[1].Type);
        Assert.Equal(tooMany - 1, rateLimited[1].Count);
        Assert.Equal(rateLimited[0].EventId, rateLimited[1].CorrelationId);
        Assert.Equal(rateLimited[0].SourceIp, rateLimited[1].SourceIp);
        Assert.Equal(statuses.Count - tooMany - 1, unauthenticated.Skip(1).Sum(e => e.Count ?? 0));
    }

    [Fact]
    public async Task AnAnonymousRefusal_IsStillARefusalWhenTheTrailIsDown_AndIsCountedNotLost()
    {
        await using var server = await RunningServer.StartAsync();
        var secret = await server.AddClientAsync("needs-the-trail");
        using var http = server.CreateClient();
        await server.Services.GetRequiredServiceOf<AuditWriter>().StopAsync();

        var anonymous = await http.PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
        var issuance = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Headers = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("needs-the-trail:" + secret))) },
            Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]),
        });

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, issuance.StatusCode);
        Assert.Equal(1, server.Services.GetRequiredServiceOf<Safeguard.Audit.RefusalAggregator>().Pending);
    }

    [Fact]
    public async Task Readyz_AsksTheDatabaseAtMostOnceASecond()
    {
        await using var server = await RunningServer.StartAsync();
        using var management = server.CreateManagementClient();
        var probe = server.Services.GetRequiredServiceOf<StoreProbe>();
        await management.GetAsync("/readyz");
        var first = probe.Queries;

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => management.GetAsync("/readyz")));
        var withinTheSecond = probe.Queries;
        server.Time.Advance(StoreProbe.MaxAge);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/readyz")).StatusCode);

        Assert.Equal(first, withinTheSecond);
        Assert.Equal(first + 1, probe.Queries);
    }

    [Theory]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3")]
    [InlineData("10.1.2.3", "10.1.2.3")]
    public void ASourceIsAnIPv4AddressOrAnIPv6Slash64(string address, string source)
    {
        Assert.Equal(source, SourceAddress.Of(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData(-1, 10)]
    [InlineData(10, 0)]
    [InlineData(10, 5)]
    public void AnInconsistentLimit_IsRefusedAtStart(int perSecond, int burst)
    {
        var result = new ServerOptionsValidator().Validate(null, new ServerOptions { RateLimits = new RateLimitOptions { PerAddressPerSecond = perSecond, PerAddressBurst = burst } });

        Assert.Contains(result.Failures!, f => f.Contains("Safeguard:RateLimits:PerAddressPerSecond", StringComparison.Ordinal));
    }
}
