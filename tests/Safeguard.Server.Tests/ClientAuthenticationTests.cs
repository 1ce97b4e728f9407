using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Duende.IdentityModel.Client;
using Safeguard.Audit;
using Safeguard.Clients;

namespace Safeguard.Server.Tests;

/// <summary>private_key_jwt (RFC 7523), tls_client_auth (RFC 8705) and DPoP (RFC 9449) at the token endpoint.</summary>
public sealed class ClientAuthenticationTests(SqliteServerFixture fixture) : IClassFixture<SqliteServerFixture>
{
    private RunningServer Server => fixture.Server;

    private static long Now => TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();

    private string Assertion(ECDsa key, string clientId, string? audience = null, long? exp = null, string? jti = null, string alg = "ES256", string? typ = null)
    {
        var header = new JsonObject { ["alg"] = alg, ["kid"] = "k1" };
        if (typ is not null)
        {
            header["typ"] = typ;
        }

        return Jws.Sign(key, header, new JsonObject
        {
            ["iss"] = clientId,
            ["sub"] = clientId,
            ["aud"] = audience == "two" ? new JsonArray(Server.Issuer, "https://elsewhere.example") : JsonValue.Create(audience ?? Server.Issuer),
            ["exp"] = exp ?? Now + 60,
            ["iat"] = Now,
            ["jti"] = jti ?? Guid.NewGuid().ToString(),
        });
    }

    private Task<TokenResponse> RequestWithAssertionAsync(string clientId, string assertion) =>
        Server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = Server.TokenEndpoint,
            ClientId = clientId,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
            ClientAssertion = new ClientAssertion { Type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", Value = assertion },
        });

    [Fact]
    public async Task PrivateKeyJwt_Succeeds_AndTheSameAssertionTwiceIsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await Server.AddClientAsync("pkjwt", ClientAuthenticationMethods.PrivateKeyJwt, jwks: Jws.Jwks(key, "k1"));
        var assertion = Assertion(key, "pkjwt");

        var first = await RequestWithAssertionAsync("pkjwt", assertion);
        var replay = await RequestWithAssertionAsync("pkjwt", assertion);

        Assert.False(first.IsError, first.Error + " " + first.ErrorDescription);
        Assert.Equal("pkjwt", Jws.Payload(first.AccessToken!).GetProperty("client_id").GetString());
        Assert.Equal("invalid_client", Jws.ErrorOf(replay));
        Assert.StartsWith("SG3006", (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrivateKeyJwt_WithDpop_TheNonceChallengeDoesNotSpendTheAssertion()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var proofKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await Server.AddClientAsync("pkjwt-dpop", ClientAuthenticationMethods.PrivateKeyJwt, jwks: Jws.Jwks(key, "k1"), requireDpop: true);
        var assertion = Assertion(key, "pkjwt-dpop");
        using var http = Server.CreateClient();

        var challenged = await PostAsync(http, assertion, Proof(proofKey, nonce: null));
        var retried = await PostAsync(http, assertion, Proof(proofKey, nonce: challenged.Nonce));

        Assert.Equal("use_dpop_nonce", challenged.Error);
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        Assert.Equal(Jws.Thumbprint(proofKey), Jws.Payload(retried.Body.GetProperty("access_token").GetString()!).GetProperty("cnf").GetProperty("jkt").GetString());

        static async Task<(HttpStatusCode Status, string? Error, string? Nonce, JsonElement Body)> PostAsync(HttpClient http, string assertion, string proof)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/token")
            {
                Content = new FormUrlEncodedContent([
                    new("grant_type", "client_credentials"),
                    new("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    new("client_assertion", assertion)]),
            };
            request.Headers.TryAddWithoutValidation("DPoP", proof);
            using var response = await http.SendAsync(request);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var body = json.RootElement.Clone();
            return (response.StatusCode, body.TryGetProperty("error", out var e) ? e.GetString() : null,
                response.Headers.TryGetValues("DPoP-Nonce", out var n) ? n.Single() : null, body);
        }
    }

    public static TheoryData<string> BadAssertions => new()
    {
        "wrong-audience", "token-endpoint-audience", "two-audiences", "expired", "lives-an-hour", "other-key", "alg-none", "hs256", "typ-at+jwt", "no-jti", "sub-differs", "garbage",
    };

    [Theory]
    [MemberData(nameof(BadAssertions))]
    public async Task PrivateKeyJwt_BadAssertions_AreRefusedAsInvalidClient(string variant)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clientId = "pk-" + variant.Replace("+", "-", StringComparison.Ordinal);
        await Server.AddClientAsync(clientId, ClientAuthenticationMethods.PrivateKeyJwt, jwks: Jws.Jwks(key, "k1"));
        var assertion = variant switch
        {
            "wrong-audience" => Assertion(key, clientId, audience: "https://elsewhere.example/token"),
            "token-endpoint-audience" => Assertion(key, clientId, audience: Server.TokenEndpoint),
            "two-audiences" => Assertion(key, clientId, audience: "two"),
            "expired" => Assertion(key, clientId, exp: Now - 300),
            "lives-an-hour" => Assertion(key, clientId, exp: Now + 3600),
            "other-key" => Assertion(other, clientId),
            "alg-none" => Jws.Segment(new JsonObject { ["alg"] = "none" }) + "." + Assertion(key, clientId).Split('.')[1] + ".",
            "hs256" => HmacAssertion(clientId),
            "typ-at+jwt" => Assertion(key, clientId, typ: "at+jwt"),
            "no-jti" => Jws.Sign(key, new JsonObject { ["alg"] = "ES256" }, new JsonObject { ["iss"] = clientId, ["sub"] = clientId, ["aud"] = Server.Issuer, ["exp"] = Now + 60 }),
            "sub-differs" => Jws.Sign(key, new JsonObject { ["alg"] = "ES256" }, new JsonObject { ["iss"] = clientId, ["sub"] = "someone-else", ["aud"] = Server.Issuer, ["exp"] = Now + 60, ["jti"] = "j" }),
            _ => "not.a.jwt",
        };

        var response = await RequestWithAssertionAsync(clientId, assertion);

        Assert.Equal("invalid_client", Jws.ErrorOf(response));
        Assert.Null(response.AccessToken);
        var refused = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused);
        Assert.StartsWith("SG3005", refused.Reason, StringComparison.Ordinal);

        string HmacAssertion(string id)
        {
            var input = Jws.Segment(new JsonObject { ["alg"] = "HS256" }) + "." + Jws.Segment(new JsonObject { ["iss"] = id, ["sub"] = id, ["aud"] = Server.Issuer, ["exp"] = Now + 60, ["jti"] = "h" });
            var mac = HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Jws.Jwks(key, "k1")), System.Text.Encoding.ASCII.GetBytes(input));
            return input + "." + Base64Url.EncodeToString(mac);
        }
    }

    [Fact]
    public async Task PrivateKeyJwtClient_CannotFallBackToBasic()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await Server.AddClientAsync("pk-no-basic", ClientAuthenticationMethods.PrivateKeyJwt, jwks: Jws.Jwks(key, "k1"));
        var response = await Server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "pk-no-basic", ClientSecret = "anything" });
        Assert.Equal("invalid_client", Jws.ErrorOf(response));
    }

    [Fact]
    public async Task SelfSignedTlsClientAuth_TheRegisteredCertificate_GetsACertificateBoundToken()
    {
        using var certificate = ClientCertificate("CN=lab-device");
        using var stranger = ClientCertificate("CN=lab-device");
        var thumbprint = Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        await Server.AddClientAsync("mtls", ClientAuthenticationMethods.SelfSignedTlsClientAuth, certificateThumbprint: thumbprint);

        var bound = await Server.CreateClient(certificate).RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "mtls", ClientCredentialStyle = ClientCredentialStyle.PostBody });
        var wrong = await Server.CreateClient(stranger).RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "mtls", ClientCredentialStyle = ClientCredentialStyle.PostBody });
        var none = await Server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "mtls", ClientCredentialStyle = ClientCredentialStyle.PostBody });

        Assert.False(bound.IsError, bound.Error + " " + bound.ErrorDescription);
        Assert.Equal(thumbprint, Jws.Payload(bound.AccessToken!).GetProperty("cnf").GetProperty("x5t#S256").GetString());
        Assert.Equal("invalid_client", Jws.ErrorOf(wrong));
        Assert.Equal("invalid_client", Jws.ErrorOf(none));
    }

    [Fact]
    public async Task Dpop_FirstProofGetsANonce_ThenTheTokenIsBoundToTheKey()
    {
        var secret = await Server.AddClientAsync("dpop-client");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = Server.CreateClient();

        var first = await PostWithProofAsync(http, "dpop-client", secret!, Proof(key, nonce: null));
        Assert.Equal(HttpStatusCode.BadRequest, first.Status);
        Assert.Equal("use_dpop_nonce", first.Error);
        Assert.NotNull(first.Nonce);

        var second = await PostWithProofAsync(http, "dpop-client", secret!, Proof(key, nonce: first.Nonce));
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal("DPoP", second.Body.GetProperty("token_type").GetString());
        var token = second.Body.GetProperty("access_token").GetString()!;
        Assert.Equal(Jws.Thumbprint(key), Jws.Payload(token).GetProperty("cnf").GetProperty("jkt").GetString());
        var issued = (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenIssued);
        Assert.Equal(Jws.Thumbprint(key), issued.ConfirmationThumbprint);
    }

    public static TheoryData<string, string> BadProofs => new()
    {
        { "replayed", "SG3110" },
        { "wrong-htu", "SG3107" },
        { "wrong-htm", "SG3107" },
        { "private-jwk", "SG3105" },
        { "typ-jwt", "SG3103" },
        { "alg-hs256", "SG3104" },
        { "old-iat", "SG3108" },
        { "future-iat", "SG3108" },
        { "bad-signature", "SG3106" },
        { "bad-nonce", "SG3109" },
        { "two-headers", "SG3102" },
        { "garbage", "SG3102" },
        { "lone-surrogate", "SG3102" },
    };

    [Theory]
    [MemberData(nameof(BadProofs))]
    public async Task Dpop_BadProofs_AreRefusedWithTheirReason(string variant, string code)
    {
        var clientId = "dpop-bad-" + variant;
        var secret = await Server.AddClientAsync(clientId);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = Server.CreateClient();
        var nonce = (await PostWithProofAsync(http, clientId, secret!, Proof(key, null))).Nonce;
        string[] proofs = variant switch
        {
            "wrong-htu" => [Proof(key, nonce, htu: Server.Issuer + "/other")],
            "wrong-htm" => [Proof(key, nonce, htm: "GET")],
            "private-jwk" => [Proof(key, nonce, jwk: Jws.PublicJwk(key, includePrivate: true))],
            "typ-jwt" => [Proof(key, nonce, typ: "JWT")],
            "alg-hs256" => [Proof(key, nonce, alg: "HS256")],
            "old-iat" => [Proof(key, nonce, iat: Now - 600)],
            "future-iat" => [Proof(key, nonce, iat: Now + 600)],
            "bad-signature" => [Proof(key, nonce)[..^4] + "AAAA"],
            "bad-nonce" => [Proof(key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")],
            "two-headers" => [Proof(key, nonce), Proof(key, nonce)],
            "garbage" => ["e30.e30"],
            "lone-surrogate" => [Jws.SignRaw(key, "{\"typ\":\"\\udc00\",\"alg\":\"ES256\"}", "{\"jti\":\"x\"}")],
            _ => [Proof(key, nonce)],
        };
        if (variant == "replayed")
        {
            Assert.Equal(HttpStatusCode.OK, (await PostWithProofAsync(http, clientId, secret!, proofs)).Status);
        }

        var result = await PostWithProofAsync(http, clientId, secret!, proofs);

        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal(variant == "bad-nonce" ? "use_dpop_nonce" : "invalid_dpop_proof", result.Error);
        Assert.False(result.Body.TryGetProperty("access_token", out _));
        Assert.StartsWith(code, (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dpop_AProofSentWithBadCredentials_IsNotRecorded_SoNoAnonymousWrites()
    {
        var secret = await Server.AddClientAsync("dpop-anon");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = Server.CreateClient();
        var nonce = (await PostWithProofAsync(http, "dpop-anon", secret!, Proof(key, null))).Nonce;
        var proof = Proof(key, nonce);

        var anonymous = await PostWithProofAsync(http, "dpop-anon", "wrong-secret", proof);
        var authenticated = await PostWithProofAsync(http, "dpop-anon", secret!, proof);

        Assert.Equal("invalid_client", anonymous.Error);
        Assert.Equal(HttpStatusCode.OK, authenticated.Status);
    }

    [Fact]
    public async Task ClientThatRequiresDpop_WithoutAProof_IsRefused()
    {
        var secret = await Server.AddClientAsync("dpop-required", requireDpop: true);
        var response = await Server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "dpop-required", ClientSecret = secret });

        Assert.Equal("invalid_request", Jws.ErrorOf(response));
        Assert.StartsWith("SG3206", (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    private string Proof(ECDsa key, string? nonce, string? htu = null, string htm = "POST", JsonObject? jwk = null, string typ = "dpop+jwt", string alg = "ES256", long? iat = null)
    {
        var payload = new JsonObject { ["jti"] = Guid.NewGuid().ToString(), ["htm"] = htm, ["htu"] = htu ?? Server.TokenEndpoint, ["iat"] = iat ?? Now };
        if (nonce is not null)
        {
            payload["nonce"] = nonce;
        }

        return Jws.Sign(key, new JsonObject { ["typ"] = typ, ["alg"] = alg, ["jwk"] = jwk ?? Jws.PublicJwk(key) }, payload);
    }

    private static async Task<(HttpStatusCode Status, string? Error, string? Nonce, JsonElement Body)> PostWithProofAsync(HttpClient http, string clientId, string secret, params string[] proofs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{clientId}:{secret}")));
        foreach (var proof in proofs)
        {
            request.Headers.TryAddWithoutValidation("DPoP", proof);
        }

        using var response = await http.SendAsync(request);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var body = json.RootElement.Clone();
        return (response.StatusCode, body.TryGetProperty("error", out var e) ? e.GetString() : null,
            response.Headers.TryGetValues("DPoP-Nonce", out var n) ? n.Single() : null, body);
    }

    [Fact]
    public async Task TlsClientAuth_WithoutAConfiguredClientCa_IsRefused()
    {
        using var certificate = ClientCertificate("CN=no-ca-device");
        await Server.AddClientAsync("mtls-no-ca", ClientAuthenticationMethods.TlsClientAuth, certificateSubject: "CN=no-ca-device");

        var response = await Server.CreateClient(certificate).RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = Server.TokenEndpoint, ClientId = "mtls-no-ca", ClientCredentialStyle = ClientCredentialStyle.PostBody });

        Assert.Equal("invalid_client", Jws.ErrorOf(response));
        Assert.StartsWith("SG3007", (await Server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    private static X509Certificate2 ClientCertificate(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var now = TimeProvider.System.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// For each way of presenting credentials, the answer is byte for byte the same whether the id is unknown, or
    /// registered for a secret, a key, a pinned certificate or a CA-issued certificate (and the credential is wrong).
    /// The audit record keeps the real reason. Timing is measured in bench/ (client_auth_*).
    /// </summary>
    [Fact]
    public async Task FailedClientAuthentication_LooksTheSameWhateverTheIdNames()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = ClientCertificate("CN=enum-device");
        using var wrongCertificate = ClientCertificate("CN=enum-someone-else");
        await Server.AddClientAsync("enum-secret");
        await Server.AddClientAsync("enum-key", ClientAuthenticationMethods.PrivateKeyJwt, jwks: Jws.Jwks(key, "k1"));
        await Server.AddClientAsync("enum-pinned", ClientAuthenticationMethods.SelfSignedTlsClientAuth, certificateThumbprint: Base64Url.EncodeToString(SHA256.HashData(certificate.RawData)));
        await Server.AddClientAsync("enum-ca", ClientAuthenticationMethods.TlsClientAuth, certificateSubject: "CN=enum-ca-device");
        string[] ids = ["enum-nobody", "enum-secret", "enum-key", "enum-pinned", "enum-ca"];

        async Task<string> AnswerAsync(HttpRequestMessage request, X509Certificate2? clientCertificate = null)
        {
            using var http = Server.CreateClient(clientCertificate);
            using var response = await http.SendAsync(request);
            var headers = string.Join(";", response.Headers.Where(h => h.Key is "WWW-Authenticate" or "Cache-Control").Select(h => h.Key + "=" + string.Join(",", h.Value)));
            return $"{(int)response.StatusCode} {headers} {await response.Content.ReadAsStringAsync()}";
        }

        HttpRequestMessage Form(params (string Name, string Value)[] fields) =>
            new(HttpMethod.Post, "/token") { Content = new FormUrlEncodedContent([new("grant_type", "client_credentials"), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]) };

        var basic = new List<string>();
        var assertion = new List<string>();
        var certificateOnly = new List<string>();
        var idOnly = new List<string>();
        foreach (var id in ids)
        {
            var withBasic = Form();
            withBasic.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(id + ":not-the-secret-of-anyone-at-all-000000000000")));
            basic.Add(await AnswerAsync(withBasic));
            assertion.Add(await AnswerAsync(Form(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", Assertion(attacker, id)))));
            certificateOnly.Add(await AnswerAsync(Form(("client_id", id)), wrongCertificate));
            idOnly.Add(await AnswerAsync(Form(("client_id", id))));
        }

        Assert.All(basic, answer => Assert.Equal(basic[0], answer));
        Assert.All(assertion, answer => Assert.Equal(assertion[0], answer));
        Assert.All(certificateOnly, answer => Assert.Equal(certificateOnly[0], answer));
        Assert.All(idOnly, answer => Assert.Equal(certificateOnly[0], answer));
        Assert.StartsWith("401 Cache-Control=no-store;WWW-Authenticate=Basic", basic[0], StringComparison.Ordinal);
        Assert.StartsWith("400", assertion[0], StringComparison.Ordinal);
        Assert.Contains("Client authentication failed.", certificateOnly[0], StringComparison.Ordinal);

        // The trail still says what really happened.
        var refusals = (await Server.AuditEventsAsync()).Where(e => e.Type == AuditEventType.TokenRefused).TakeLast(4 * ids.Length).Select(e => e.Reason![..6]).ToList();
        Assert.Contains(SafeguardErrorCodes.ClientUnknown, refusals);
        Assert.Contains(SafeguardErrorCodes.ClientSecretInvalid, refusals);
        Assert.Contains(SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed, refusals);
        Assert.Contains(SafeguardErrorCodes.ClientAssertionInvalid, refusals);
        Assert.Contains(SafeguardErrorCodes.ClientCertificateInvalid, refusals);
    }
}
