using System.Net;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.Gateway;

/// <summary>TLS to the upstream: a pinned certificate is trusted, any other is not (and nothing reaches it).</summary>
public sealed class GatewayUpstreamTlsTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("ehr-app", scopes: ["patient.read"], resources: [RunningGateway.Audience]))!;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AnHttpsUpstreamWithThePinnedCertificate_IsReachedOverTls()
    {
        await using var gateway = await RunningGateway.StartAsync(_server, httpsUpstream: true);
        Assert.StartsWith("https://", gateway.Upstream.Urls.Single(), StringComparison.Ordinal);

        var response = await gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", await Resource.SampleApi.TokenAsync(_server, "ehr-app", _secret, "patient.read", RunningGateway.Audience));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, gateway.Reached);
    }

    [Fact]
    public async Task AnUpstreamWhoseCertificateIsNotThePinnedOne_IsNeverSentTheRequest()
    {
        await using var gateway = await RunningGateway.StartAsync(_server, settings => settings["Gateway:Clusters:ehr:CertificateSha256"] = new string('A', 64), httpsUpstream: true);

        var response = await gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", await Resource.SampleApi.TokenAsync(_server, "ehr-app", _secret, "patient.read", RunningGateway.Audience));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(0, gateway.Reached);
        var events = await gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessCompleted, 1);
        Assert.Equal(502, events.Single(e => e.Type == AuditEventType.PhiAccessCompleted).HttpStatus);
    }
}
