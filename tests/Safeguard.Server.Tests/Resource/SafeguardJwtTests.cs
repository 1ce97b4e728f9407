using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;
using Safeguard.Keys;

namespace Safeguard.Server.Tests.Resource;

/// <summary>
/// A sample ASP.NET Core API protected with <c>AddSafeguardJwt</c> (its own Kestrel over TLS) and tokens from the real
/// Safeguard server: what it accepts, what it refuses with a generic <c>invalid_token</c>, key rotation, and the
/// authority going away.
/// </summary>
public sealed class SafeguardJwtTests : IAsyncLifetime
{
    private const string Api = SampleApi.Audience;

    private RunningServer _server = null!;
    private SampleApi _api = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("billing", scopes: ["patient.read", "patient.write"], resources: [Api, "https://other.example.org"]))!;
        _api = await SampleApi.StartAsync(
            _server,
            builder => builder.Services.AddAuthorizationBuilder()
                .AddPolicy("read", p => p.RequireAuthenticatedUser().RequireClaim("scope", "patient.read"))
                .AddPolicy("write", p => p.RequireAuthenticatedUser().RequireClaim("scope", "patient.write")),
            app =>
            {
                app.MapGet("/patients/{id}", (ClaimsPrincipal user) => Results.Json(new
                {
                    sub = user.FindFirstValue("sub"),
                    client_id = user.FindFirstValue("client_id"),
                    scopes = user.FindAll("scope").Select(c => c.Value).ToArray(),
                })).RequireAuthorization("read");
                app.MapPost("/patients/{id}/notes", () => Results.Ok()).RequireAuthorization("write");
            });
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AValidToken_ReachesTheEndpoint_AsItsClient_WithItsScopes()
    {
        var response = await CallAsync("/patients/42", await TokenAsync("patient.read"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("billing", json.RootElement.GetProperty("sub").GetString());
        Assert.Equal("billing", json.RootElement.GetProperty("client_id").GetString());
        Assert.Equal(["patient.read"], json.RootElement.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task BadTokens_AreRefusedWithAGenericInvalidToken()
    {
        var good = await TokenAsync("patient.read");
        var parts = good.Split('.');
        var otherAudience = await TokenAsync("patient.read", "https://other.example.org");
        var tampered = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];

        var none = await CallAsync("/patients/42", null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer realm=\"safeguard\"", none.Headers.WwwAuthenticate.ToString());

        foreach (var bad in new[] { tampered, otherAudience, "not-a-token", parts[0] + "." + parts[1] + "." })
        {
            var refused = await CallAsync("/patients/42", bad);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer realm=\"safeguard\", error=\"invalid_token\"", refused.Headers.WwwAuthenticate.ToString());
            Assert.DoesNotContain("SG", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        var inQuery = await _api.Http.GetAsync("/patients/42?access_token=" + good);
        Assert.Equal(HttpStatusCode.Unauthorized, inQuery.StatusCode);
        var inForm = await _api.Http.PostAsync("/patients/42/notes", new FormUrlEncodedContent([new("access_token", good)]));
        Assert.Equal(HttpStatusCode.Unauthorized, inForm.StatusCode);
    }

    [Fact]
    public async Task AMissingScope_IsForbidden_WithInsufficientScope()
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/patients/42/notes") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync("patient.read"));
        var response = await _api.Http.SendAsync(message);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("insufficient_scope", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterARotation_TheNewKeyIsLearnedOnItsFirstToken_AndTheRevokedKeysTokensStopWorking()
    {
        var before = await TokenAsync("patient.read");
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("/patients/1", before)).StatusCode);
        var ring = _server.Services.GetRequiredService<SigningKeyRing>();
        var old = ring.GetSigningKey()!.KeyId;
        await ring.RotateAsync(CancellationToken.None);
        await ring.RevokeAsync(old, CancellationToken.None);

        var after = await TokenAsync("patient.read");
        Assert.NotEqual(Jws.Header(before).GetProperty("kid").GetString(), Jws.Header(after).GetProperty("kid").GetString());
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("/patients/1", after)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallAsync("/patients/1", before)).StatusCode);
    }

    [Fact]
    public async Task WithTheAuthorityUnreachable_KnownKeysKeepWorking_AndNoOtherIsTrusted()
    {
        var token = await TokenAsync("patient.read");
        Assert.Equal(HttpStatusCode.OK, (await CallAsync("/patients/1", token)).StatusCode);
        var parts = token.Split('.');
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var header = Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"" + new string('k', 43) + "\"}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var forged = header + "." + parts[1] + "." + Convert.ToBase64String(stranger.SignData(Encoding.ASCII.GetBytes(header + "." + parts[1]), HashAlgorithmName.SHA256)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        await _server.DisposeAsync();
        _server = await RunningServer.StartAsync(); // a different authority now answers nothing for the old one's address

        Assert.Equal(HttpStatusCode.OK, (await CallAsync("/patients/1", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CallAsync("/patients/1", forged)).StatusCode);
    }

    [Fact]
    public async Task OptionsAreCheckedAtStartUp_EveryProblemAtOnce()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddAuthentication().AddSafeguardJwt(o =>
        {
            o.Authority = "http://auth.example.org";
            o.Audience = "";
            o.KeyRefreshInterval = TimeSpan.FromSeconds(1);
        });
        await using var app = builder.Build();

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains(failure.Failures, f => f.Contains("Authority", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.Contains("Audience", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.Contains("KeyRefreshInterval", StringComparison.Ordinal));
    }

    private async Task<HttpResponseMessage> CallAsync(string path, string? token)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await _api.Http.SendAsync(message);
    }

    private Task<string> TokenAsync(string scope, string resource = Api) => SampleApi.TokenAsync(_server, "billing", _secret, scope, resource);
}

/// <summary>The handler talks to the server over HTTPS only: it references neither the server nor EF Core.</summary>
public sealed class SafeguardJwtPackageTests
{
    [Fact]
    public void TheHandlerPackage_ReferencesNeitherTheServerNorStorageNorEfCore_EvenTransitively()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<System.Reflection.AssemblyName>(typeof(SafeguardJwtHandler).Assembly.GetReferencedAssemblies());
        while (pending.TryDequeue(out var name))
        {
            if (!seen.Add(name.Name!) || !name.Name!.StartsWith("Safeguard", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var next in System.Reflection.Assembly.Load(name).GetReferencedAssemblies())
            {
                pending.Enqueue(next);
            }
        }

        Assert.Contains("Safeguard.Core", seen);
        Assert.Contains("Safeguard.AuditStores", seen);
        Assert.DoesNotContain(seen, r => r.StartsWith("Safeguard.Server", StringComparison.Ordinal) || r == "Safeguard.Storage"
            || r.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal));
    }
}
