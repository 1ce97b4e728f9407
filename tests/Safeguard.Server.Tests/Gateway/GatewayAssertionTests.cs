using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;
using Safeguard.Keys;

namespace Safeguard.Server.Tests.Gateway;

/// <summary>The verified identity as a signed assertion (<c>Gateway:IdentityAssertion</c>): what the upstream receives, and that the gateway's published key verifies it.</summary>
public sealed class GatewayAssertionTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private RunningGateway _gateway = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("ehr-app", scopes: ["patient.read"], resources: [RunningGateway.Audience]))!;
        _gateway = await RunningGateway.StartAsync(_server, settings => settings["Gateway:IdentityAssertion"] = "true");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task TheUpstreamReceivesAShortLivedAssertion_SignedByTheKeyTheGatewayPublishes()
    {
        var token = await Resource.SampleApi.TokenAsync(_server, "ehr-app", _secret, "patient.read", RunningGateway.Audience);

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", token)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/2", "Bearer", token, ("X-Safeguard-Assertion", "forged"))).StatusCode);

        var seen = _gateway.UpstreamRequests.ToList();
        var assertion = seen[0]["X-Safeguard-Assertion"];
        Assert.Equal(assertion, seen[1]["X-Safeguard-Assertion"]); // made once per token and cluster, the client's own dropped
        var parts = assertion.Split('.');
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        Assert.Equal(("safeguard-identity+jwt", "ES256"), (header.RootElement.GetProperty("typ").GetString(), header.RootElement.GetProperty("alg").GetString()));
        var claims = payload.RootElement;
        Assert.Equal(RunningGateway.Audience, claims.GetProperty("iss").GetString());
        Assert.Equal("ehr", claims.GetProperty("aud").GetString());
        Assert.Equal("ehr-app", claims.GetProperty("sub").GetString());
        Assert.Equal("ehr-app", claims.GetProperty("client_id").GetString());
        Assert.Equal("patient.read", claims.GetProperty("scope").GetString());
        Assert.Equal(Jws.Payload(token).GetProperty("jti").GetString(), claims.GetProperty("token_jti").GetString());
        Assert.InRange(claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64(), 1, 60);

        using var jwks = JsonDocument.Parse(await _gateway.Http.GetStringAsync("/.safeguard/jwks"));
        var jwk = jwks.RootElement.GetProperty("keys")[0];
        Assert.Equal(header.RootElement.GetProperty("kid").GetString(), jwk.GetProperty("kid").GetString());
        using var key = JwkPublicKey.FromJwk(jwk, out var problem);
        Assert.True(key is not null, problem);
        Assert.True(key.Verify("ES256", Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2])));
        Assert.False(key.Verify("ES256", Encoding.ASCII.GetBytes(parts[0] + "." + parts[1] + "x"), Base64Url.DecodeFromChars(parts[2])));
    }
}
