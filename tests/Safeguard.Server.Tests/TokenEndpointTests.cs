using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Duende.IdentityModel.Client;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Audit;
using Safeguard.Clients;

namespace Safeguard.Server.Tests;

public sealed class SqliteServerFixture : IAsyncLifetime
{
    internal RunningServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The token endpoint over real TLS on the embedded default, driven by a standard OAuth client library.</summary>
public sealed class TokenEndpointTests(SqliteServerFixture fixture) : IClassFixture<SqliteServerFixture>
{
    private const string Api = "https://api.example.org";
    private RunningServer Server => fixture.Server;

    [Fact]
    public async Task Discovery_BothWellKnownPaths_DescribeTheServerForAStandardClient()
    {
        using var http = Server.CreateClient();
        var discovery = await http.GetDiscoveryDocumentAsync(new DiscoveryDocumentRequest
        {
            Address = Server.Issuer,
            Policy = { RequireHttps = true, ValidateIssuerName = true, ValidateEndpoints = true, RequireKeySet = true },
        });
        Assert.False(discovery.IsError, discovery.Error);
        Assert.Equal(Server.Issuer, discovery.Issuer);
        Assert.Equal(Server.TokenEndpoint, discovery.TokenEndpoint);
        Assert.Equal(Server.Issuer + "/revoke", discovery.RevocationEndpoint);
        Assert.Equal(Server.Issuer + "/introspect", discovery.IntrospectionEndpoint);
        Assert.Contains("client_credentials", discovery.GrantTypesSupported);
        // No client CA is configured here, so tls_client_auth (PKI) is not offered; MutualTlsTests checks the other case.
        Assert.Equal(["private_key_jwt", "self_signed_tls_client_auth", "client_secret_basic", "none"], discovery.TokenEndpointAuthenticationMethodsSupported);
        Assert.Contains("ES256", discovery.TryGetStringArray("dpop_signing_alg_values_supported"));
        Assert.NotEmpty(discovery.KeySet!.Keys);

        var oauth = await http.GetStringAsync("/.well-known/oauth-authorization-server");
        var openid = await http.GetStringAsync("/.well-known/openid-configuration");
        Assert.Equal(oauth, openid);
        using var document = JsonDocument.Parse(oauth);
        foreach (var member in document.RootElement.EnumerateObject().Where(m => m.Name.EndsWith("_endpoint", StringComparison.Ordinal) || m.Name == "jwks_uri" || m.Name == "issuer"))
        {
            Assert.StartsWith("https://", member.Value.GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task KeyRing_TheFirstKeysCreationAndActivationAreAudited()
    {
        var ring = (Keys.SigningKeyRing)Server.Services.GetService(typeof(Keys.SigningKeyRing))!;
        var active = ring.GetSigningKey()!.KeyId;

        // Key events are queued (they must survive a store outage), so they may land a moment after start-up.
        // Key events are queued (they must survive a store outage). The writer commits in order, so once a later
        // event is durable (this refused request's), so are they.
        using (var http = Server.CreateClient())
        {
            await http.PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
        }

        var events = await Server.AuditEventsAsync();
        var created = Assert.Single(events, e => e.Type == AuditEventType.KeyCreated && e.ResourceId == active);
        Assert.Equal("signing_key", created.ResourceType);
        Assert.Equal(AuditAction.Create, created.Action);
        Assert.DoesNotContain(events, e => e.Reason?.Contains("PRIVATE", StringComparison.OrdinalIgnoreCase) == true);
    }

    [Fact]
    public async Task Jwks_PublicParametersOnly_CachedForLessThanThePropagationTime()
    {
        using var http = Server.CreateClient();
        using var response = await http.GetAsync("/jwks");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var maxAge = response.Headers.CacheControl!.MaxAge!.Value;
        Assert.True(maxAge > TimeSpan.Zero && maxAge < TimeSpan.FromHours(1), $"max-age {maxAge}");
        using var jwks = JsonDocument.Parse(body);
        foreach (var key in jwks.RootElement.GetProperty("keys").EnumerateArray())
        {
            Assert.Equal("ES256", key.GetProperty("alg").GetString());
            foreach (var privateMember in new[] { "d", "p", "q", "dp", "dq", "qi" })
            {
                Assert.False(key.TryGetProperty(privateMember, out _), privateMember);
            }
        }
    }

    [Fact]
    public async Task ClientSecretBasic_IssuesAnRfc9068TokenThatVerifiesAgainstTheJwks_AndAuditsIt()
    {
        var secret = await Server.AddClientAsync("billing-basic", scopes: ["patient.read", "patient.write"]);
        using var http = Server.CreateClient();

        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = Server.TokenEndpoint,
            ClientId = "billing-basic",
            ClientSecret = secret,
            Scope = "patient.read",
            Resource = { Api },
            ClientCredentialStyle = ClientCredentialStyle.AuthorizationHeader,
        });

        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        Assert.Equal("Bearer", response.TokenType);
        Assert.InRange(response.ExpiresIn, 290, 300);
        Assert.Equal("no-store", response.HttpResponse!.Headers.CacheControl!.ToString());
        Assert.Contains("no-cache", response.HttpResponse.Headers.Pragma.ToString(), StringComparison.Ordinal);

        var jwks = new JsonWebKeySet(await http.GetStringAsync("/jwks"));
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(response.AccessToken, new TokenValidationParameters
        {
            ValidIssuer = Server.Issuer,
            ValidAudience = Api,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
            ClockSkew = TimeSpan.FromSeconds(60),
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
        var token = (JsonWebToken)validation.SecurityToken;
        Assert.Equal("billing-basic", token.Subject);
        Assert.Equal("billing-basic", token.GetClaim("client_id").Value);
        Assert.Equal("patient.read", token.GetClaim("scope").Value);
        Assert.Equal("ES256", token.Alg);
        Assert.False(token.TryGetClaim("cnf", out _));

        var issued = (await Server.AuditEventsAsync()).Single(e => e.Type == AuditEventType.TokenIssued && e.TokenId == token.Id);
        Assert.Equal(AuditOutcome.Success, issued.Outcome);
        Assert.Equal("billing-basic", issued.ClientId);
        Assert.Equal("127.0.0.1", issued.SourceIp);
        Assert.DoesNotContain(response.AccessToken!, JsonSerializer.Serialize(await Server.AuditEventsAsync()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoScopeAndNoResource_GrantsTheClientsScopesForItsFirstResource()
    {
        var secret = await Server.AddClientAsync("defaults", scopes: ["a.read", "b.read"], resources: ["https://first.example", "https://second.example"]);
        using var http = Server.CreateClient();
        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "defaults", ClientSecret = secret });

        Assert.False(response.IsError, response.Error);
        var payload = Jws.Payload(response.AccessToken!);
        Assert.Equal("https://first.example", payload.GetProperty("aud").GetString());
        Assert.Equal("a.read b.read", payload.GetProperty("scope").GetString());
    }

    [Theory]
    [InlineData("wrong-secret", "SG3004")]
    [InlineData("unknown-client", "SG3002")]
    public async Task BadCredentials_Get401InvalidClientWithABasicChallenge_AndAnAuditedReason(string variant, string code)
    {
        var secret = await Server.AddClientAsync("basic-" + variant);
        using var http = Server.CreateClient();
        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = Server.TokenEndpoint,
            ClientId = variant == "unknown-client" ? "nobody-" + variant : "basic-" + variant,
            ClientSecret = variant == "wrong-secret" ? secret + "x" : secret,
        });

        Assert.True(response.IsError);
        Assert.Equal(HttpStatusCode.Unauthorized, response.HttpStatusCode);
        Assert.Equal("invalid_client", Jws.ErrorOf(response));
        Assert.Equal("Basic", response.HttpResponse!.Headers.WwwAuthenticate.Single().Scheme);
        var refused = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused);
        Assert.Equal(AuditOutcome.Denied, refused.Outcome);
        Assert.StartsWith(code, refused.Reason, StringComparison.Ordinal);
        Assert.Equal(401, refused.HttpStatus);
    }

    [Fact]
    public async Task DisabledClient_CannotAuthenticate()
    {
        var secret = await Server.AddClientAsync("to-disable");
        var store = (IClientStore)Server.Services.GetService(typeof(IClientStore))!;
        var client = await store.FindAsync("to-disable", CancellationToken.None);
        await store.UpdateAsync(client! with { Enabled = false, UpdatedAt = TimeProvider.System.GetUtcNow().AddSeconds(1) }, CancellationToken.None);
        using var http = Server.CreateClient();

        await Server.SyncAsync();
        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "to-disable", ClientSecret = secret });

        Assert.Equal("invalid_client", Jws.ErrorOf(response));
        Assert.StartsWith("SG3003", (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("scope=patient.delete", "invalid_scope")]
    [InlineData("scope=patient.read%20admin", "invalid_scope")]
    [InlineData("resource=https%3A%2F%2Fother.example", "invalid_target")]
    [InlineData("resource=not-a-uri", "invalid_target")]
    [InlineData("resource=https%3A%2F%2Fapi.example.org%23frag", "invalid_target")]
    [InlineData("grant_type=password&x=1", "unsupported_grant_type")]
    [InlineData("scope=a&scope=b", "invalid_request")]
    [InlineData("client_secret=abc", "invalid_client")]
    public async Task RequestsOutsideTheClientsRegistration_GetTheRfcError(string extra, string error)
    {
        var id = "bounded-" + Guid.NewGuid().ToString("N")[..8];
        var secret = await Server.AddClientAsync(id, scopes: ["patient.read", "patient.write"], resources: [Api]);
        using var http = Server.CreateClient();
        var body = extra.StartsWith("grant_type", StringComparison.Ordinal) ? extra : "grant_type=client_credentials&" + extra;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{id}:{secret}")));

        using var response = await http.SendAsync(request);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(error, json.RootElement.GetProperty("error").GetString());
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, response.StatusCode.ToString());
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        Assert.False(json.RootElement.TryGetProperty("access_token", out _));
    }

    [Theory]
    [InlineData("application/json", "{\"grant_type\":\"client_credentials\"}", HttpStatusCode.BadRequest)]
    [InlineData("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n", HttpStatusCode.BadRequest)]
    [InlineData("application/x-www-form-urlencoded; charset=iso-8859-1", "grant_type=client_credentials", HttpStatusCode.BadRequest)]
    [InlineData("application/x-www-form-urlencoded", "grant_type=%ZZ%%&&==", HttpStatusCode.BadRequest)]
    public async Task MalformedBodies_GetAClearErrorAndNoToken(string contentType, string body, HttpStatusCode status)
    {
        using var http = Server.CreateClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await http.PostAsync("/token", content);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(status, response.StatusCode);
        Assert.True(json.RootElement.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task OversizedBody_Gets413_AndOversizedHeaders_Get431_AndTheServerKeepsServing()
    {
        // The oversized body is declared, and only its start sent: the server answers from Content-Length and closes the
        // connection, so a client still writing the rest would see a broken pipe instead of the answer.
        var status = await RawStatusLineAsync(
            "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
            $"Content-Length: {64 * 1024 + 34}\r\n\r\ngrant_type=client_credentials&pad=" + new string('a', 1024));
        Assert.StartsWith("HTTP/1.1 413 ", status, StringComparison.Ordinal);

        using var http = Server.CreateClient();

        using (var request = new HttpRequestMessage(HttpMethod.Post, "/token"))
        {
            request.Headers.TryAddWithoutValidation("X-Pad", new string('b', 40 * 1024));
            request.Content = new StringContent("grant_type=client_credentials", Encoding.UTF8, "application/x-www-form-urlencoded");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        }

        using var health = await Server.CreateClient().GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>Sends raw bytes over TLS and reads the status line of the answer (a server still waiting for the rest fails it after 30 s).</summary>
    private async Task<string> RawStatusLineAsync(string request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, new Uri(Server.ListenAddress).Port, timeout.Token);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => certificate?.GetCertHashString() == Server.ServerCertificate.GetCertHashString());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", ApplicationProtocols = [SslApplicationProtocol.Http11] }, timeout.Token);
        await tls.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        using var reader = new StreamReader(tls, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token) ?? string.Empty;
    }

    [Fact]
    public async Task GetOnTheTokenEndpoint_IsNotAllowed()
    {
        using var http = Server.CreateClient();
        using var response = await http.GetAsync("/token?grant_type=client_credentials");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }
}
