using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Options;

namespace Safeguard.Server.Tests;

/// <summary>164.312(e): TLS only, modern protocols and AEAD suites, HSTS on https, a plain-http listener that only redirects.</summary>
public sealed class TransportTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private int _httpPort;

    public async Task InitializeAsync()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        _httpPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _server = await RunningServer.StartAsync(extra: $"--Safeguard:HttpRedirectListen=http://127.0.0.1:{_httpPort}");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private int Port => new Uri(_server.Issuer).Port;

    [Theory]
    [InlineData(SslProtocols.Tls13)]
    [InlineData(SslProtocols.Tls12)]
    public async Task Tls12And13_Handshake(SslProtocols protocol)
    {
        var negotiated = await HandshakeAsync(protocol);
        Assert.Equal(protocol, negotiated);
    }

#pragma warning disable CS0618, SYSLIB0039, CA5397 // Deliberately old protocols: they must be refused.
    [Theory]
    [InlineData(SslProtocols.Tls11)]
    [InlineData(SslProtocols.Tls)]
    public async Task Tls11AndOlder_AreRefused(SslProtocols protocol)
    {
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(protocol));
    }
#pragma warning restore CS0618, SYSLIB0039, CA5397

    [Theory]
    [InlineData("ECDHE-ECDSA-AES128-SHA")]
    [InlineData("ECDHE-ECDSA-AES256-SHA384")]
    [InlineData("AES128-GCM-SHA256")]
    public async Task NonAeadOrNonEcdheSuites_AreRefused_ButAnAeadEcdheSuiteIsAccepted(string cipher)
    {
        Assert.False(await OpenSslConnectsAsync(cipher), cipher + " was accepted");
        Assert.True(await OpenSslConnectsAsync("ECDHE-ECDSA-AES128-GCM-SHA256"));
    }

    [Fact]
    public async Task Https_CarriesHsts_AndTheDevelopmentCertificateIsPinnable()
    {
        using var http = _server.CreateClient();
        using var response = await http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("max-age=31536000; includeSubDomains", response.Headers.GetValues("Strict-Transport-Security").Single());
        Assert.False(response.Headers.Contains("Server"));
        var keyFile = Path.Combine(_server.DataPath, "tls", "server.key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_server.DataPath, "kek")));
    }

    [Fact]
    public async Task PlainHttpListener_OnlyRedirects_WithNoContentAndNoHsts()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/.well-known/openid-configuration"), (HttpMethod.Post, "/token"), (HttpMethod.Get, "/jwks?x=1") })
        {
            using var request = new HttpRequestMessage(method, $"http://127.0.0.1:{_httpPort}{path}");
            using var response = await http.SendAsync(request);

            Assert.Equal(HttpStatusCode.PermanentRedirect, response.StatusCode);
            Assert.Equal(_server.Issuer + path, response.Headers.Location!.ToString());
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
            Assert.False(response.Headers.Contains("Strict-Transport-Security"));
        }
    }

    [Fact]
    public async Task Health_LiveAndReady_AndMetricsCarryNoSecrets()
    {
        using var http = _server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        using var ready = await http.GetAsync("/readyz");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"status\":\"ready\"", body, StringComparison.Ordinal);
        foreach (var check in new[] { "store", "audit", "signing_key" })
        {
            Assert.Contains($"\"{check}\":{{\"status\":\"ok\"}}", body, StringComparison.Ordinal);
        }

        var secret = await _server.AddClientAsync("metrics-client");
        await http.PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("safeguard_tokens_refused_total", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain(secret!, metrics, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllText(Path.Combine(_server.DataPath, "kek")).Trim(), metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidConfiguration_FailsAtStartWithMessagesThatSayWhatToChange()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SafeguardServer.Build(
            ["--Safeguard:Listen=http://127.0.0.1:5000", "--Safeguard:Tokens:Lifetime=01:00:00", "--Safeguard:Tls:CertificatePath=/nonexistent.pem", $"--Safeguard:DataPath={_server.DataPath}"]));

        Assert.Contains(error.Failures, f => f.Contains("Safeguard:Listen", StringComparison.Ordinal) && f.Contains("https", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Lifetime", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("KeyPath", StringComparison.Ordinal));
        Assert.Equal(2, await SafeguardServer.RunAsync(["--Safeguard:Listen=ftp://x", $"--Safeguard:DataPath={_server.DataPath}"]));
        await Task.CompletedTask;
    }

    private async Task<SslProtocols> HandshakeAsync(SslProtocols protocol)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port);
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => certificate is not null);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1", EnabledSslProtocols = protocol });
        return ssl.SslProtocol;
    }

    private async Task<bool> OpenSslConnectsAsync(string cipher)
    {
        var start = new ProcessStartInfo("openssl", $"s_client -connect 127.0.0.1:{Port} -tls1_2 -cipher {cipher} -servername localhost")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 && output.Contains("Cipher is " + cipher, StringComparison.Ordinal);
    }
}
