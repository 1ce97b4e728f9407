using System.Net;
using System.Text.Json;
using Duende.IdentityModel.Client;
using Safeguard.Audit;
using Safeguard.Tokens;

namespace Safeguard.Server.Tests;

/// <summary>RFC 7009 revocation and RFC 7662 introspection, with a standard client library.</summary>
public sealed class RevocationIntrospectionTests(SqliteServerFixture fixture) : IClassFixture<SqliteServerFixture>
{
    private const string Api = "https://records.example.org";
    private RunningServer Server => fixture.Server;

    private async Task<string> TokenAsync(string clientId, string secret)
    {
        var response = await Server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = clientId, ClientSecret = secret });
        Assert.False(response.IsError, response.Error);
        return response.AccessToken!;
    }

    private Task<TokenIntrospectionResponse> IntrospectAsync(string clientId, string secret, string token) =>
        Server.CreateClient().IntrospectTokenAsync(new TokenIntrospectionRequest { Address = Server.Issuer + "/introspect", ClientId = clientId, ClientSecret = secret, Token = token });

    [Fact]
    public async Task Introspection_ActiveTokenForTheCallersResource_ShowsItsClaims()
    {
        var client = await Server.AddClientAsync("rs-caller-a", resources: [Api]);
        var resourceServer = await Server.AddClientAsync("rs-a", resources: [Api], introspect: [Api]);
        var token = await TokenAsync("rs-caller-a", client!);

        var result = await IntrospectAsync("rs-a", resourceServer!, token);

        Assert.False(result.IsError, result.Error);
        Assert.True(result.IsActive);
        Assert.Equal("rs-caller-a", result.TryGet("client_id"));
        Assert.Equal(Server.Issuer, result.TryGet("iss"));
        Assert.Equal("Bearer", result.TryGet("token_type"));
        Assert.Equal("no-store", result.HttpResponse!.Headers.CacheControl!.ToString());
        var recorded = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenIntrospected);
        Assert.Equal("rs-a", recorded.ClientId);
        Assert.Equal("active", recorded.Reason);
        Assert.Equal(Jws.Payload(token).GetProperty("jti").GetString(), recorded.TokenId);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("other-audience")]
    [InlineData("revoked")]
    [InlineData("tampered")]
    public async Task Introspection_AnythingNotActiveForTheCaller_IsExactlyActiveFalse(string variant)
    {
        var owner = await Server.AddClientAsync("owner-" + variant, resources: ["https://somewhere-else.example"]);
        var resourceServer = await Server.AddClientAsync("rs-" + variant, resources: [Api], introspect: [Api]);
        var token = variant == "garbage" ? "not-a-token" : await TokenAsync("owner-" + variant, owner!);
        if (variant == "revoked")
        {
            Assert.False((await Server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = Server.Issuer + "/revoke", ClientId = "owner-" + variant, ClientSecret = owner, Token = token })).IsError);
        }

        if (variant == "tampered")
        {
            token = token[..^6] + (token[^6] == 'A' ? "B" : "A") + token[^5..];
        }

        using var http = Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/introspect") { Content = new FormUrlEncodedContent([new("token", token)]) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"rs-{variant}:{resourceServer}")));
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"active\":false}", await response.Content.ReadAsStringAsync());
        var recorded = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenIntrospected);
        Assert.Equal("rs-" + variant, recorded.ClientId);
        Assert.StartsWith("inactive", recorded.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Introspection_WithoutThePermission_IsRefused()
    {
        var secret = await Server.AddClientAsync("no-introspect");
        var token = await TokenAsync("no-introspect", secret!);

        var result = await IntrospectAsync("no-introspect", secret!, token);

        Assert.True(result.IsError);
        Assert.Equal(HttpStatusCode.Forbidden, result.HttpStatusCode);
        Assert.StartsWith("SG3207", (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revocation_OwnToken_IsRecordedUntilExpiry_AndIntrospectionThenSaysInactive()
    {
        var secret = await Server.AddClientAsync("revoker", resources: [Api], introspect: [Api]);
        var token = await TokenAsync("revoker", secret!);
        var jti = Jws.Payload(token).GetProperty("jti").GetString();

        var revoked = await Server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = Server.Issuer + "/revoke", ClientId = "revoker", ClientSecret = secret, Token = token, TokenTypeHint = "access_token" });

        Assert.False(revoked.IsError, revoked.Error);
        Assert.False((await IntrospectAsync("revoker", secret!, token)).IsActive);
        var store = (IRevocationStore)Server.Services.GetService(typeof(IRevocationStore))!;
        var row = Assert.Single(await store.GetUnexpiredAsync(TimeProvider.System.GetUtcNow(), CancellationToken.None), r => r.TokenId == jti);
        Assert.Equal("revoker", row.ClientId);
        Assert.Equal(Jws.Payload(token).GetProperty("exp").GetInt64(), row.ExpiresAt.ToUnixTimeSeconds());
        var audit = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRevoked);
        Assert.Equal(AuditOutcome.Success, audit.Outcome);
        Assert.Equal(jti, audit.TokenId);
    }

    [Fact]
    public async Task Revocation_AnotherClientsToken_Answers200ButRevokesNothing()
    {
        var owner = await Server.AddClientAsync("victim", resources: [Api], introspect: [Api]);
        var attacker = await Server.AddClientAsync("attacker");
        var token = await TokenAsync("victim", owner!);

        var response = await Server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = Server.Issuer + "/revoke", ClientId = "attacker", ClientSecret = attacker, Token = token });
        var unknown = await Server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = Server.Issuer + "/revoke", ClientId = "attacker", ClientSecret = attacker, Token = "whatever" });

        Assert.False(response.IsError);
        Assert.False(unknown.IsError);
        Assert.True((await IntrospectAsync("victim", owner!, token)).IsActive);
        var denied = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRevoked && e.ClientId == "attacker" && e.TokenId is not null);
        Assert.Equal(AuditOutcome.Denied, denied.Outcome);
    }

    [Fact]
    public async Task Revocation_WithoutClientAuthentication_Is401()
    {
        var response = await Server.CreateClient().PostAsync("/revoke", new FormUrlEncodedContent([new("token", "x")]));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_client", json.RootElement.GetProperty("error").GetString());
    }
}
