using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Duende.IdentityModel.Client;

namespace Safeguard.Server.Tests;

/// <summary>
/// Slow and oversized requests: slow headers are cut off at RequestHeadersTimeout, a 10 MB body and 1,000 headers are
/// refused without being buffered, and other clients are served meanwhile.
/// </summary>
public sealed class HostileClientTests
{
    [Fact]
    public async Task SlowHeaders_AreCutOff_WhileOtherClientsAreServed()
    {
        await using var server = await RunningServer.StartAsync(extra: "--Safeguard:Limits:RequestHeadersTimeout=00:00:02");
        var secret = await server.AddClientAsync("patient-one");

        // Twenty connections that send one header byte every 200 ms and never finish.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var slow = Enumerable.Range(0, 20).Select(_ => TrickleHeadersAsync(server, stop.Token)).ToList();

        var token = await server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "patient-one", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);

        var outcomes = await Task.WhenAll(slow);
        Assert.All(outcomes, outcome => Assert.True(outcome.Closed, "a slow connection was still open after 60 s"));
        Assert.All(outcomes, outcome => Assert.InRange(outcome.After, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ATenMegabyteBody_Gets413_WithoutBeingBuffered(bool chunked)
    {
        await using var server = await RunningServer.StartAsync();
        using var http = server.CreateClient();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = new ZeroContent(10 * 1024 * 1024, chunked) };
        HttpStatusCode status;
        try
        {
            using var response = await http.SendAsync(request);
            status = response.StatusCode;
        }
        catch (HttpRequestException ex) when (ex.InnerException is IOException)
        {
            // The server answered 413 and closed the connection while the body was still being sent.
            status = HttpStatusCode.RequestEntityTooLarge;
        }

        var used = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.True(used < 4 * 1024 * 1024, $"the 10 MB request cost {used:N0} bytes of allocation in client and server together");
        var token = await server.CreateClient().GetAsync("/jwks");
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
    }

    [Fact]
    public async Task AThousandHeaders_Get431_AndTheNextRequestIsServed()
    {
        await using var server = await RunningServer.StartAsync();
        using var http = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]) };
        for (var i = 0; i < 1000; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Flood-{i}", "x");
        }

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.CreateClient().GetAsync("/healthz")).StatusCode);
    }

    /// <summary>Opens TLS, starts a request, then trickles header bytes until the server closes the connection.</summary>
    private static async Task<(bool Closed, TimeSpan After)> TrickleHeadersAsync(RunningServer server, CancellationToken cancellationToken)
    {
        var address = new Uri(server.ListenAddress);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, address.Port, cancellationToken);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => certificate?.GetCertHashString() == server.ServerCertificate.GetCertHashString());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", ApplicationProtocols = [SslApplicationProtocol.Http11] }, cancellationToken);
        var started = TimeProvider.System.GetUtcNow();
        await tls.WriteAsync(Encoding.ASCII.GetBytes("POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"), cancellationToken);
        var reading = tls.ReadAsync(new byte[1024], cancellationToken).AsTask();
        try
        {
            while (!reading.IsCompleted)
            {
                await tls.WriteAsync("X"u8.ToArray(), cancellationToken);
                await Task.WhenAny(reading, Task.Delay(200, cancellationToken));
            }

            await reading;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Closed under us: that is the outcome wanted.
        }
        catch (OperationCanceledException)
        {
            return (false, TimeProvider.System.GetUtcNow() - started);
        }

        return (true, TimeProvider.System.GetUtcNow() - started);
    }

    /// <summary>A body of zeros, streamed from one small buffer, with or without a Content-Length.</summary>
    private sealed class ZeroContent(long length, bool chunked) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new byte[64 * 1024];
            for (long sent = 0; sent < length; sent += buffer.Length)
            {
                await stream.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)));
            }
        }

        protected override bool TryComputeLength(out long size)
        {
            size = length;
            return !chunked;
        }
    }
}
