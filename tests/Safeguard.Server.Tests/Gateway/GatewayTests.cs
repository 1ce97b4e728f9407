using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Duende.IdentityModel.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Safeguard.AspNetCore;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Gateway;
using Safeguard.Keys;

namespace Safeguard.Server.Tests.Gateway;

/// <summary>
/// The gateway over TLS in front of a real upstream on loopback, with tokens from the real server: forwarding with
/// the verified identity and the client's identity and forwarding headers stripped; one allowed event per forwarded
/// request (reconciliation); the attack rows that reach a resource refused with 401 and their audit reason, the
/// upstream never reached; DPoP and mTLS binding; the trail down (503, upstream not reached); configuration errors.
/// </summary>
public sealed class GatewayTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private RunningGateway _gateway = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("ehr-app", scopes: ["patient.read", "patient.write"], resources: [RunningGateway.Audience, "https://other.example.org"]))!;
        var feedSecret = (await _server.AddClientAsync("gateway-feed", scopes: ["patient.read"], resources: [RunningGateway.Audience], introspect: [RunningGateway.Audience]))!;
        _gateway = await RunningGateway.StartAsync(_server, settings =>
        {
            settings["Gateway:RevocationFeed:ClientId"] = "gateway-feed";
            settings["Gateway:RevocationFeed:ClientSecret"] = feedSecret;
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AValidToken_IsForwarded_WithTheVerifiedIdentity_AndWhatTheClientClaimedStripped()
    {
        var token = await TokenAsync("patient.read");

        var response = await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/p9", "Bearer", token,
            ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "http"), ("Forwarded", "for=6.6.6.6;host=evil.example"),
            ("X-User-Id", "admin"), ("X-Client-Cert", "MIIB"), ("X-Safeguard-Subject", "admin"), ("X-Real-IP", "6.6.6.6"), ("X-Request-Id", "kept-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("upstream:/fhir/Patient/p9", await response.Content.ReadAsStringAsync());
        var seen = Assert.Single(_gateway.UpstreamRequests);
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("https", seen["X-Forwarded-Proto"]);
        Assert.Equal(new Uri(_gateway.App.Urls.Single()).Authority, seen["X-Forwarded-Host"]);
        Assert.Equal("ehr-app", seen["X-Safeguard-Subject"]);
        Assert.Equal("ehr-app", seen["X-Safeguard-Client-Id"]);
        Assert.Equal("patient.read", seen["X-Safeguard-Scope"]);
        Assert.Equal(Jws.Payload(token).GetProperty("jti").GetString(), seen["X-Safeguard-Token-Id"]);
        Assert.Equal("kept-1", seen["X-Request-Id"]);
        foreach (var stripped in new[] { "Forwarded", "X-User-Id", "X-Client-Cert", "X-Real-IP", "Authorization" })
        {
            Assert.False(seen.ContainsKey(stripped), stripped + " reached the upstream");
        }
    }

    [Fact]
    public async Task EveryForwardedRequest_HasExactlyOneAllowedEvent_WithTheUpstreamsStatusAndDuration()
    {
        var token = await TokenAsync("patient.read");
        var paths = new[] { "/fhir/Patient/1", "/fhir/Observation?patient=1", "/fhir/teapot", "/buffered/a", "/buffered/b" };

        foreach (var path in paths)
        {
            await _gateway.SendAsync(HttpMethod.Get, path, "Bearer", token);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/2", "Bearer", "junk")).StatusCode);
        var events = await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessCompleted, 3);
        events = await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessAllowed, 5);
        var allowed = events.Where(e => e.Type == AuditEventType.PhiAccessAllowed).ToList();
        Assert.Equal(_gateway.Reached, allowed.Count);
        Assert.Equal(5, allowed.Count);

        // Durable routes: the decision, then its completion (status, duration) correlated to it.
        var completions = events.Where(e => e.Type == AuditEventType.PhiAccessCompleted).ToDictionary(e => e.CorrelationId!);
        var durable = allowed.Where(e => e.Route == "/fhir/{**rest}").ToList();
        Assert.Equal(3, durable.Count);
        Assert.Equal([200, 200, 418], durable.Select(e => completions[e.EventId].HttpStatus ?? 0));
        Assert.All(durable, e => Assert.NotNull(completions[e.EventId].DurationMs));
        Assert.Equal(new (string?, string?)[] { ("Patient", "1"), ("Observation", null), (null, null) }, durable.Select(e => (e.ResourceType, e.ResourceId)));

        // Buffered routes: one event carrying the status and duration.
        var buffered = allowed.Where(e => e.Route == "/buffered/{**rest}").ToList();
        Assert.All(buffered, e => Assert.Equal(200, e.HttpStatus));
        Assert.All(buffered, e => Assert.NotNull(e.DurationMs));
        Assert.Single(events, e => e.Type == AuditEventType.PhiAccessDenied);
    }

    public static TheoryData<string, string> Attacks => new()
    {
        { "alg none", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "HS256 signed with the public key", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "ES256 with r=s=0", SafeguardErrorCodes.TokenSignatureInvalid },
        { "signature stripped", SafeguardErrorCodes.TokenSignatureInvalid },
        { "payload altered after signing", SafeguardErrorCodes.TokenSignatureInvalid },
        { "embedded jwk", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "jku", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "kid traversal", SafeguardErrorCodes.TokenKeyIdMalformed },
        { "kid of an attacker's key", SafeguardErrorCodes.TokenKeyUnknown },
        { "expired", SafeguardErrorCodes.TokenExpired },
        { "nbf in the future", SafeguardErrorCodes.TokenNotYetValid },
        { "audience of another API", SafeguardErrorCodes.TokenAudienceInvalid },
        { "issuer of another server", SafeguardErrorCodes.TokenIssuerInvalid },
        { "an ID token as an access token", SafeguardErrorCodes.TokenTypeInvalid },
        { "a DPoP proof as an access token", SafeguardErrorCodes.TokenTypeInvalid },
        { "crit header", SafeguardErrorCodes.TokenCriticalHeader },
        { "duplicate claim", SafeguardErrorCodes.TokenDuplicateMember },
        { "over 8 KB", SafeguardErrorCodes.TokenTooLarge },
        { "a JWE", SafeguardErrorCodes.TokenEncrypted },
        { "a DPoP-bound token sent as Bearer", SafeguardErrorCodes.ResourceDpopBoundAsBearer },
        { "a token in the query string", SafeguardErrorCodes.TokenMalformed },
        { "no token", SafeguardErrorCodes.TokenMissing },
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task AnAttack_IsRefusedWith401_AndItsReasonAudited_AndTheUpstreamNeverReached(string attack, string code)
    {
        var (token, query) = await AttackAsync(attack);

        var response = await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1" + query, "Bearer", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain("SG", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var denied = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 1)).Single(e => e.Type == AuditEventType.PhiAccessDenied);
        Assert.Equal((code, 401), (denied.Reason, denied.HttpStatus ?? 0));
        Assert.Equal(0, _gateway.Reached);
    }

    [Fact]
    public async Task ARevokedToken_IsRefusedAtTheGatewayWithin2Seconds_AndNoLongerForwarded()
    {
        var token = await TokenAsync("patient.read");
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", token)).StatusCode);
        using (var ready = await _gateway.Http.GetAsync("/.safeguard/readyz"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var revoked = await _server.CreateClient().RevokeTokenAsync(new TokenRevocationRequest { Address = _server.Issuer + "/revoke", ClientId = "ehr-app", ClientSecret = _secret, Token = token });
        Assert.False(revoked.IsError);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var status = HttpStatusCode.OK;
        while (status == HttpStatusCode.OK && watch.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
            status = (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", token)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"refused after {watch.Elapsed}");
        var reached = _gateway.Reached;
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", token)).StatusCode);
        Assert.Equal(reached, _gateway.Reached);
        var denied = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 1)).Last(e => e.Type == AuditEventType.PhiAccessDenied);
        Assert.Equal(SafeguardErrorCodes.TokenRevoked, denied.Reason);
    }

    [Fact]
    public async Task AMissingScopeOrRole_IsForbidden_AndNeverForwarded()
    {
        var response = await _gateway.SendAsync(HttpMethod.Get, "/admin/settings", "Bearer", await TokenAsync("patient.read"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("scope=\"patient.write\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var denied = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 1)).Single(e => e.Type == AuditEventType.PhiAccessDenied);
        Assert.Equal(SafeguardErrorCodes.ResourceScopeMissing, denied.Reason);
        Assert.Equal(0, _gateway.Reached);
    }

    [Fact]
    public async Task AFormPost_ReachesTheUpstreamWhole_AfterTheGatewayLookedForATokenInIt()
    {
        // FHIR search by POST is a url-encoded form: the gateway reads it to refuse a token in the body (RFC 6750
        // section 2.2) and must still forward every byte of it.
        const string Form = "name=smith&birthdate=ge1970-01-01&_count=10";
        using var message = new HttpRequestMessage(HttpMethod.Post, "/fhir/Patient/_search") { Content = new StringContent(Form, Encoding.UTF8, "application/x-www-form-urlencoded") };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync("patient.read"));
        var response = await _gateway.Http.SendAsync(message);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Form, Assert.Single(_gateway.UpstreamBodies));
        var allowed = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessAllowed, 1)).Single(e => e.Type == AuditEventType.PhiAccessAllowed);
        Assert.Equal(("Patient", AuditAction.Search), (allowed.ResourceType, allowed.Action));

        // A token in the form is still refused, and nothing is forwarded.
        using var smuggled = new HttpRequestMessage(HttpMethod.Post, "/fhir/Patient/_search")
        {
            Content = new StringContent("access_token=" + await TokenAsync("patient.read"), Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gateway.Http.SendAsync(smuggled)).StatusCode);
        Assert.Equal(1, _gateway.Reached);
    }

    [Fact]
    public async Task EachRefusal_HasItsOwnAnswer_AndAuditReason_AndIsNeverForwarded()
    {
        var token = await TokenAsync("patient.read");
        var cases = new (string Name, string Path, string? Token, HttpStatusCode Status, string Challenge, string Code)[]
        {
            ("no token", "/fhir/Patient/1", null, HttpStatusCode.Unauthorized, "Bearer realm=\"safeguard\"", SafeguardErrorCodes.TokenMissing),
            ("a role the token lacks", "/clinical/Patient/1", token, HttpStatusCode.Forbidden, "error=\"insufficient_scope\"", SafeguardErrorCodes.ResourceRoleMissing),
            ("an acr the sign-in lacks", "/mfa/Patient/1", token, HttpStatusCode.Unauthorized,
                "error=\"insufficient_user_authentication\", error_description=\"A more recent or stronger sign-in is required\", acr_values=\"http://idmanagement.gov/ns/assurance/aal/2\"",
                SafeguardErrorCodes.ResourceAcrInsufficient),
            ("no sign-in time on a max-age route", "/recent/Patient/1", token, HttpStatusCode.Unauthorized, "error=\"insufficient_user_authentication\"", SafeguardErrorCodes.ResourceAuthenticationTooOld),
            ("an unbound token on a DPoP route", "/dpop/Patient/1", token, HttpStatusCode.Unauthorized, "DPoP algs=\"ES256 ES384 PS256 RS256\", error=\"invalid_token\"", SafeguardErrorCodes.DpopRequired),
        };

        foreach (var (name, path, presented, status, challenge, code) in cases)
        {
            var before = (await _gateway.AuditEventsAsync()).Count(e => e.Type == AuditEventType.PhiAccessDenied);
            var response = await _gateway.SendAsync(HttpMethod.Get, path, "Bearer", presented);
            Assert.True(status == response.StatusCode, name + ": " + response.StatusCode);
            Assert.True(response.Headers.WwwAuthenticate.ToString().Contains(challenge, StringComparison.Ordinal), name + ": " + response.Headers.WwwAuthenticate);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            var denied = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, before + 1)).Last(e => e.Type == AuditEventType.PhiAccessDenied);
            Assert.True(code == denied.Reason, name + ": " + denied.Reason);
            Assert.Equal((int)status, denied.HttpStatus);
        }

        Assert.Contains("max_age=300", (await _gateway.SendAsync(HttpMethod.Get, "/recent/Patient/2", "Bearer", token)).Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, _gateway.Reached);

        // The gateway's own endpoints are not proxied and need no token.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(HttpMethod.Get, "/.safeguard/healthz", null, null)).StatusCode);

        // Its access step does the checking alone: with authentication services registered, WebApplication would add
        // the authentication middleware too, and a token would be checked (and a DPoP proof consumed) twice.
        Assert.Null(_gateway.App.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>());
    }

    [Fact]
    public async Task DpopMatrix_AProofOfTheBoundKeyPasses_EverythingElseIsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await _server.AddClientAsync("dpop-app", scopes: ["patient.read"], resources: [RunningGateway.Audience], requireDpop: true);
        var secret = (await _server.AddClientAsync("dpop-app2", scopes: ["patient.read"], resources: [RunningGateway.Audience], requireDpop: true))!;
        var bound = await DpopTokenAsync("dpop-app2", secret, key);
        var url = _gateway.Http.BaseAddress + "dpop/Patient/1";

        // The first call learns the gateway's nonce (RFC 9449 section 9).
        var first = await SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "GET", url, bound, nonce: null));
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Contains("error=\"use_dpop_nonce\"", first.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var nonce = first.Headers.GetValues("DPoP-Nonce").Single();

        var proof = Proof(key, "GET", url, bound, nonce);
        Assert.Equal(HttpStatusCode.OK, (await SendDpopAsync("/dpop/Patient/1", bound, proof)).StatusCode);
        Assert.Equal(1, _gateway.Reached);
        Assert.False(_gateway.UpstreamRequests.Single().ContainsKey("DPoP"));

        var refusals = new (string Name, Func<Task<HttpResponseMessage>> Send, string Code)[]
        {
            ("the same proof again", () => SendDpopAsync("/dpop/Patient/1", bound, proof), SafeguardErrorCodes.DpopReplayed),
            ("no proof", () => SendDpopAsync("/dpop/Patient/1", bound, null), SafeguardErrorCodes.DpopProofMissing),
            ("a proof for another URL", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "GET", _gateway.Http.BaseAddress + "dpop/Patient/2", bound, nonce)), SafeguardErrorCodes.DpopTargetMismatch),
            ("a proof for another method", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "POST", url, bound, nonce)), SafeguardErrorCodes.DpopTargetMismatch),
            ("a proof for another token", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "GET", url, "another-token", nonce)), SafeguardErrorCodes.DpopAccessTokenHashInvalid),
            ("a proof by another key", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(other, "GET", url, bound, nonce)), SafeguardErrorCodes.DpopKeyInvalid),
            ("a proof with a made-up nonce", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "GET", url, bound, "made-up")), SafeguardErrorCodes.DpopNonceInvalid),
            ("a stale proof", () => SendDpopAsync("/dpop/Patient/1", bound, Proof(key, "GET", url, bound, nonce, iat: TimeProvider.System.GetUtcNow().AddMinutes(-5).ToUnixTimeSeconds())), SafeguardErrorCodes.DpopIssuedAtInvalid),
            ("the bound token as Bearer", () => _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", bound), SafeguardErrorCodes.ResourceDpopBoundAsBearer),
            ("an unbound token on a DPoP route", async () => await _gateway.SendAsync(HttpMethod.Get, "/dpop/Patient/1", "Bearer", await TokenAsync("patient.read")), SafeguardErrorCodes.DpopRequired),
        };

        // The nonce challenge above was a refusal too (its kind is already open).
        var seen = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 1)).Where(e => e.Type == AuditEventType.PhiAccessDenied).Select(e => e.Reason!).ToHashSet();
        foreach (var (name, send, code) in refusals)
        {
            var before = (await _gateway.AuditEventsAsync()).Count(e => e.Type == AuditEventType.PhiAccessDenied);
            var response = await send();
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, name + ": " + response.StatusCode);
            if (!seen.Add(code))
            {
                continue; // a second refusal of a kind (source, code) in the window goes into its summary, checked below
            }

            var events = await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, before + 1);
            Assert.True(code == events.Last(e => e.Type == AuditEventType.PhiAccessDenied).Reason, name + ": " + events.Last(e => e.Type == AuditEventType.PhiAccessDenied).Reason);
        }

        Assert.Equal(1, _gateway.Reached);
        await _gateway.App.StopAsync();
        var summaries = (await _gateway.AuditEventsAsync()).Where(e => e.Type == AuditEventType.PhiAccessDenied && e.Count is not null).ToList();
        Assert.Contains(summaries, e => e.Count == 1 && e.Reason!.StartsWith(SafeguardErrorCodes.DpopTargetMismatch, StringComparison.Ordinal));
        Assert.Equal(refusals.Length + 1 - seen.Count, summaries.Sum(e => e.Count ?? 0)); // every refusal is an event or counted in one
    }

    [Fact]
    public async Task ACertificateBoundToken_PassesOnlyWithItsCertificate()
    {
        using var certificate = SelfSigned("CN=lab-device");
        using var stranger = SelfSigned("CN=lab-device");
        await _server.AddClientAsync("lab-device", ClientAuthenticationMethods.SelfSignedTlsClientAuth, scopes: ["patient.read"], resources: [RunningGateway.Audience],
            certificateThumbprint: Base64Url.EncodeToString(SHA256.HashData(certificate.RawData)));
        using var tokenClient = _server.CreateClient(certificate);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "lab-device", ["scope"] = "patient.read", ["resource"] = RunningGateway.Audience }),
        };
        using var issued = await tokenClient.SendAsync(request);
        using var json = JsonDocument.Parse(await issued.Content.ReadAsStringAsync());
        var token = json.RootElement.GetProperty("access_token").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await GatewayClient(certificate).GetWithTokenAsync("/fhir/Patient/1", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GatewayClient(stranger).GetWithTokenAsync("/fhir/Patient/1", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GatewayClient(null).GetWithTokenAsync("/fhir/Patient/1", token)).StatusCode);

        var denied = (await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 2)).Where(e => e.Type == AuditEventType.PhiAccessDenied);
        Assert.All(denied, e => Assert.Equal(SafeguardErrorCodes.ResourceCertificateMismatch, e.Reason));
        Assert.Equal(1, _gateway.Reached);
    }

    [Fact]
    public async Task WhenTheTrailCannotCommit_TheAnswerIs503_AndTheUpstreamIsNotReached()
    {
        var token = await TokenAsync("patient.read");
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/1", "Bearer", token)).StatusCode);

        using (var blocker = new SqliteConnection($"Data Source={Path.Combine(_gateway.DataPath, "audit.db")}"))
        {
            blocker.Open();
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/2", "Bearer", token)).StatusCode);
            var audit = _gateway.App.Services.GetRequiredService<SafeguardResourceAudit>();
            var deadline = TimeProvider.System.GetUtcNow().AddSeconds(10);
            while (audit.CanTakeBuffered && TimeProvider.System.GetUtcNow() < deadline)
            {
                await Task.Delay(100);
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _gateway.SendAsync(HttpMethod.Get, "/buffered/3", "Bearer", token)).StatusCode);
            Assert.Equal(1, _gateway.Reached);
            using var rollback = blocker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        // Once the store takes writes again, so does the gateway.
        var served = HttpStatusCode.ServiceUnavailable;
        for (var i = 0; i < 150 && served != HttpStatusCode.OK; i++)
        {
            await Task.Delay(200);
            served = (await _gateway.SendAsync(HttpMethod.Get, "/fhir/Patient/4", "Bearer", token)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, served);
        Assert.Equal(2, _gateway.Reached);

        // The refused Durable request's decision was either given up (nothing recorded) or committed late and then
        // followed by a completion saying 503: every decision has its completion, and only served ones say 200.
        var events = await _gateway.EventuallyAsync(e => e.Type == AuditEventType.PhiAccessCompleted && e.HttpStatus == 200, 2, seconds: 30);
        var completions = events.Where(e => e.Type == AuditEventType.PhiAccessCompleted).ToDictionary(e => e.CorrelationId!);
        var decisions = events.Where(e => e.Type == AuditEventType.PhiAccessAllowed).ToList();
        Assert.All(decisions, d => Assert.True(completions.ContainsKey(d.EventId), "a decision without its completion"));
        Assert.Equal(2, decisions.Count(d => completions[d.EventId].HttpStatus == 200));
        Assert.All(decisions.Where(d => completions[d.EventId].HttpStatus == 503), d => Assert.Equal(SafeguardErrorCodes.AuditStoreUnavailable, completions[d.EventId].Reason));
    }

    [Fact]
    public async Task AnInvalidConfiguration_StopsStartUp_WithEveryProblem()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Listen:0"] = "http://0.0.0.0:8080",
            ["Gateway:Authority"] = "http://auth.example.org",
            ["Gateway:Routes:a:Path"] = "fhir",
            ["Gateway:Routes:a:Cluster"] = "missing",
            ["Gateway:Routes:a:Audit"] = "Buffered",
            ["Gateway:Routes:b:Path"] = "/b/{**rest}",
            ["Gateway:Routes:b:Cluster"] = "remote",
            ["Gateway:Routes:b:Scopes:0"] = "x",
            ["Gateway:Routes:b:Patient"] = "cookie:p",
            ["Gateway:Clusters:remote:Destinations:0"] = "http://10.1.2.3:8080",
        };

        var failure = Assert.Throws<OptionsValidationException>(() => SafeguardGateway.Build(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()));

        var all = string.Join("\n", failure.Failures);
        foreach (var expected in new[] { "Gateway:Listen", "Gateway:DataPath", "Gateway:Authority", "Gateway:Audience", "Gateway:Routes:a:Path", "Gateway:Routes:a:Cluster", "Gateway:Routes:a:Scopes", "Gateway:Routes:b:Patient", "plain http off this machine" })
        {
            Assert.Contains(expected, all, StringComparison.Ordinal);
        }
    }

    private Task<string> TokenAsync(string scope, string resource = RunningGateway.Audience) => Resource.SampleApi.TokenAsync(_server, "ehr-app", _secret, scope, resource);

    private async Task<HttpResponseMessage> SendDpopAsync(string path, string token, string? proof)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, path);
        message.Headers.Authorization = new AuthenticationHeaderValue("DPoP", token);
        if (proof is not null)
        {
            message.Headers.TryAddWithoutValidation("DPoP", proof);
        }

        return await _gateway.Http.SendAsync(message);
    }

    private static string Proof(ECDsa key, string method, string url, string token, string? nonce, long? iat = null)
    {
        var payload = new JsonObject
        {
            ["jti"] = Guid.NewGuid().ToString(),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = iat ?? TimeProvider.System.GetUtcNow().ToUnixTimeSeconds(),
            ["ath"] = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(token))),
        };
        if (nonce is not null)
        {
            payload["nonce"] = nonce;
        }

        return Jws.Sign(key, new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = "ES256", ["jwk"] = Jws.PublicJwk(key) }, payload);
    }

    /// <summary>A DPoP-bound client-credentials token from the server (learning its nonce first).</summary>
    private async Task<string> DpopTokenAsync(string clientId, string secret, ECDsa key)
    {
        using var http = _server.CreateClient();
        string? nonce = null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var payload = new JsonObject { ["jti"] = Guid.NewGuid().ToString(), ["htm"] = "POST", ["htu"] = _server.TokenEndpoint, ["iat"] = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() };
            if (nonce is not null)
            {
                payload["nonce"] = nonce;
            }

            using var message = new HttpRequestMessage(HttpMethod.Post, "/token")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "patient.read", ["resource"] = RunningGateway.Audience }),
            };
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":" + secret)));
            message.Headers.TryAddWithoutValidation("DPoP", Jws.Sign(key, new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = "ES256", ["jwk"] = Jws.PublicJwk(key) }, payload));
            using var response = await http.SendAsync(message);
            if (response.IsSuccessStatusCode)
            {
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                return json.RootElement.GetProperty("access_token").GetString()!;
            }

            nonce = response.Headers.TryGetValues("DPoP-Nonce", out var values) ? values.Single() : throw new InvalidOperationException(await response.Content.ReadAsStringAsync());
        }

        throw new InvalidOperationException("No DPoP-bound token.");
    }

    /// <summary>A forged or broken token for an attack row, signed where the row needs it with the server's own key; and a query to append.</summary>
    private async Task<(string? Token, string Query)> AttackAsync(string attack)
    {
        var valid = await TokenAsync("patient.read");
        var parts = valid.Split('.');
        var header = JsonNode.Parse(Base64Url.DecodeFromChars(parts[0]))!.AsObject();
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var ring = _server.Services.GetRequiredService<SigningKeyRing>();
        var key = (ECDsa)((ECDsaSecurityKey)ring.GetSigningKey()!.SigningCredentials!.Key).ECDsa;
        string Resign(JsonObject h, JsonObject p) => Jws.Sign(key, h, p);
        JsonObject With(JsonObject o, string name, JsonNode? value)
        {
            var copy = o.DeepClone().AsObject();
            copy[name] = value;
            return copy;
        }

        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return attack switch
        {
            "alg none" => (Jws.Segment(With(header, "alg", "none")) + "." + parts[1] + ".", ""),
            "HS256 signed with the public key" => (Hs256(With(header, "alg", "HS256"), parts[1], Encoding.ASCII.GetBytes(ring.GetSigningKey()!.PublicKey.Thumbprint)), ""),
            "ES256 with r=s=0" => (parts[0] + "." + parts[1] + "." + Base64Url.EncodeToString(new byte[64]), ""),
            "signature stripped" => (parts[0] + "." + parts[1] + ".", ""),
            "payload altered after signing" => (parts[0] + "." + Jws.Segment(With(payload, "scope", "patient.read patient.write")) + "." + parts[2], ""),
            "embedded jwk" => (Jws.Sign(attacker, With(header, "jwk", Jws.PublicJwk(attacker)), payload), ""),
            "jku" => (Resign(With(header, "jku", "https://127.0.0.1:9/jwks.json"), payload), ""),
            "kid traversal" => (Resign(With(header, "kid", "../../dev/null"), payload), ""),
            "kid of an attacker's key" => (Jws.Sign(attacker, With(header, "kid", Jws.Thumbprint(attacker)), payload), ""),
            "expired" => (Resign(header, With(With(payload, "exp", now - 120), "iat", now - 400)), ""),
            "nbf in the future" => (Resign(header, With(payload, "nbf", now + 120)), ""),
            "audience of another API" => (await TokenAsync("patient.read", "https://other.example.org"), ""),
            "issuer of another server" => (Resign(header, With(payload, "iss", "https://evil.example.org")), ""),
            "an ID token as an access token" => (Resign(With(header, "typ", "JWT"), payload), ""),
            "a DPoP proof as an access token" => (Resign(With(header, "typ", "dpop+jwt"), payload), ""),
            "crit header" => (Resign(With(header, "crit", new JsonArray("exp")), payload), ""),
            "duplicate claim" => (DuplicateSub(key, parts[0], payload), ""),
            "over 8 KB" => (Resign(header, With(payload, "pad", new string('a', 9000))), ""),
            "a JWE" => (parts[0] + ".a.b.c.d", ""),
            "a DPoP-bound token sent as Bearer" => (await BoundTokenAsync(), ""),
            "a token in the query string" => (null, "?access_token=" + valid),
            "no token" => (null, ""),
            _ => throw new ArgumentOutOfRangeException(nameof(attack)),
        };
    }

    private async Task<string> BoundTokenAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var secret = (await _server.AddClientAsync("dpop-attack", scopes: ["patient.read"], resources: [RunningGateway.Audience], requireDpop: true))!;
        return await DpopTokenAsync("dpop-attack", secret, key);
    }

    private static string Hs256(JsonObject header, string payloadSegment, byte[] secret)
    {
        var input = Jws.Segment(header) + "." + payloadSegment;
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    private static string DuplicateSub(ECDsa key, string headerSegment, JsonObject payload)
    {
        var json = payload.ToJsonString();
        var duplicated = json[..^1] + ",\"sub\":\"admin\"}";
        var header = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(headerSegment));
        return Jws.SignRaw(key, header, duplicated);
    }

    private GatewayCaller GatewayClient(X509Certificate2? certificate) => new(_gateway, certificate);

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddDays(-1), TimeProvider.System.GetUtcNow().AddDays(30));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A client of the gateway presenting a client certificate (or none).</summary>
    private sealed class GatewayCaller(RunningGateway gateway, X509Certificate2? certificate)
    {
        public async Task<HttpResponseMessage> GetWithTokenAsync(string path, string token)
        {
            var pinned = gateway.App.Services.GetRequiredService<GatewayCertificate>().Certificate.GetCertHashString();
            using var http = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == pinned,
                    ClientCertificates = certificate is null ? null : [certificate],
                },
            })
            { BaseAddress = gateway.Http.BaseAddress };
            using var message = new HttpRequestMessage(HttpMethod.Get, path);
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await http.SendAsync(message);
        }
    }
}
