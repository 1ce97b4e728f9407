using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Safeguard.Keys;

namespace Safeguard.Server.Tests.Gateway;

/// <summary>
/// A signing-key rotation drill under traffic: tokens minted continuously by the real server and sent through the real
/// gateway while a new key is published, starts signing, and the old one retires. Valid traffic sees no failure.
/// </summary>
public sealed class GatewayKeyRotationTests
{
    [Fact]
    public async Task ARotationUnderTraffic_FailsNoValidRequest_AndTheGatewayVerifiesBothKeysTokens()
    {
        // The server's clock starts 70 s behind real time, so the propagation minute can pass on it while every token it
        // signs stays within the gateway's (real) clock.
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow() - TimeSpan.FromSeconds(70));
        await using var server = await RunningServer.StartWithAsync(services => services.AddSingleton<TimeProvider>(clock), null, "--Safeguard:Keys:PropagationTime=00:01:00");
        var secret = (await server.AddClientAsync("drill-app", scopes: ["patient.read"], resources: [RunningGateway.Audience]))!;
        await using var gateway = await RunningGateway.StartAsync(server);
        var ring = server.Services.GetRequiredService<SigningKeyRing>();
        var oldKey = ring.GetSigningKey()!.KeyId;
        var beforeRotation = await Resource.SampleApi.TokenAsync(server, "drill-app", secret, "patient.read", RunningGateway.Audience);

        var failures = new ConcurrentQueue<string>();
        var kids = new ConcurrentDictionary<string, int>();
        var sent = 0;
        using var stop = new CancellationTokenSource();
        var traffic = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var token = await Resource.SampleApi.TokenAsync(server, "drill-app", secret, "patient.read", RunningGateway.Audience);
                using var response = await gateway.SendAsync(HttpMethod.Get, "/buffered/drill", "Bearer", token);
                Interlocked.Increment(ref sent);
                kids.AddOrUpdate(Jws.Header(token).GetProperty("kid").GetString()!, 1, (_, n) => n + 1);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Enqueue($"{(int)response.StatusCode} {response.Headers.WwwAuthenticate}");
                }
            }
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(1));
        var newKey = (await ring.RotateAsync(CancellationToken.None)).KeyId; // published now, signs after the propagation time
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(oldKey, ring.GetSigningKey()!.KeyId);

        clock.Advance(TimeSpan.FromSeconds(61));
        await ring.EnsureKeysAsync(CancellationToken.None);
        Assert.Equal(newKey, ring.GetSigningKey()!.KeyId);
        await Task.Delay(TimeSpan.FromSeconds(2));

        // A token the old key signed before the switch still passes after it (the old key is retired, still published).
        using (var late = await gateway.SendAsync(HttpMethod.Get, "/buffered/drill", "Bearer", beforeRotation))
        {
            Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        }

        await stop.CancelAsync();
        await Task.WhenAll(traffic);

        Assert.Empty(failures);
        Assert.True(kids.GetValueOrDefault(oldKey) > 0 && kids.GetValueOrDefault(newKey) > 0, $"traffic did not span the switch: {string.Join(", ", kids)}");
        Assert.Equal(sent + 1, gateway.Reached);
    }
}
