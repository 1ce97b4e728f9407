using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Options;
using Safeguard.Hosting;

namespace Safeguard.Server.Tests;

/// <summary>164.312(e): TLS only, modern protocols and AEAD suites, HSTS on https, a plain-http listener that only redirects.</summary>
public sealed class TransportTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private int _httpPort;

    public async Task InitializeAsync()
    {
        // The plain-http port is found free and then bound by the server: another test's listener may take it in
        // between, so a start that finds it taken tries another.
        for (var attempt = 1; ; attempt++)
        {
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                _httpPort = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
            }

            try
            {
                _server = await RunningServer.StartAsync(extra: $"--Safeguard:HttpRedirectListen=http://127.0.0.1:{_httpPort}");
                return;
            }
            catch (IOException) when (attempt < 5)
            {
            }
        }
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

    [Theory]
    [InlineData("-tls1_1", "TLSv1.1")]
    [InlineData("-tls1", "TLSv1")]
    public async Task Tls11AndOlder_AreRefusedByTheServer_ToAClientThatOffersThem(string flag, string protocol)
    {
        // The control: this very client completes a handshake at that version with a server that allows it, so a
        // refusal below is the Safeguard server's doing, not the client's.
        Assert.True(await OpenSslNegotiatesWithControlServerAsync(flag, protocol), $"openssl s_client could not negotiate {protocol} even with a server that allows it");

        Assert.False(await OpenSslNegotiatesAsync(Port, flag, protocol), $"the server accepted {protocol}");
    }

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
        var folder = SafeguardDataFolder.At(_server.DataPath);
        var keyFile = folder.TlsKey;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(folder.KeyEncryptionKey));
    }

    [Fact]
    public async Task PlainHttpListener_RedirectsGetAndHead_WithNoContentAndNoHsts()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/.well-known/openid-configuration"), (HttpMethod.Head, "/jwks"), (HttpMethod.Get, "/jwks?x=1") })
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
    public async Task PlainHttpListener_RefusesAPostWithItsSecret_NeverRedirects_AndAuditsIt()
    {
        var secret = await _server.AddClientAsync("plain-http-client");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{_httpPort}/token")
        {
            Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes("plain-http-client:" + secret)));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("\"invalid_request\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var refused = (await _server.AuditEventsAsync()).Last(e => e.Type == Safeguard.Audit.AuditEventType.TransportRefused);
        Assert.StartsWith(SafeguardErrorCodes.PlainHttpRefused, refused.Reason, StringComparison.Ordinal);
        Assert.Null(refused.ClientId);
    }

    [Fact]
    public async Task Health_LiveAndReady_AndMetricsCarryNoSecrets()
    {
        using var http = _server.CreateClient();
        using var management = _server.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/healthz")).StatusCode);
        using var ready = await management.GetAsync("/readyz");
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"status\":\"ready\"", body, StringComparison.Ordinal);
        foreach (var check in new[] { "store", "audit", "signing_key" })
        {
            Assert.Contains($"\"{check}\":{{\"status\":\"ok\"}}", body, StringComparison.Ordinal);
        }

        var secret = await _server.AddClientAsync("metrics-client");
        await http.PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
        var metrics = await management.GetStringAsync("/metrics");
        Assert.Contains("safeguard_tokens_refused_total", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain(secret!, metrics, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllText(SafeguardDataFolder.At(_server.DataPath).KeyEncryptionKey).Trim(), metrics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    [InlineData("/METRICS")]
    [InlineData("/ReadyZ/")]
    public async Task ManagementPaths_AreNotServedOnThePublicEndpoint(string path)
    {
        using var http = _server.CreateClient();
        using var response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET", "/jwks")]
    [InlineData("GET", "/.well-known/openid-configuration")]
    [InlineData("POST", "/token")]
    [InlineData("POST", "/introspect")]
    public async Task TheManagementEndpoint_ServesNothingElse(string method, string path)
    {
        using var management = _server.CreateManagementClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new FormUrlEncodedContent([new("grant_type", "client_credentials")]) : null };
        using var response = await management.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task TheManagementEndpoint_IsThisMachineOnlyByDefault_AndCanBeTurnedOff()
    {
        Assert.Equal("https://127.0.0.1:5444", new Safeguard.Server.Configuration.ServerOptions().ManagementListen);
        await using var server = await RunningServer.StartAsync(extra: "--Safeguard:ManagementListen=");
        Assert.True(string.IsNullOrEmpty(server.ManagementAddress));
        using var http = server.CreateClient();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task MetricsOff_IsNotServed_WhateverTheCaseOfThePath()
    {
        await using var server = await RunningServer.StartAsync(extra: "--Safeguard:Metrics=false");
        using var management = server.CreateManagementClient();

        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/METRICS")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/readyz")).StatusCode);
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

    /// <summary>Whether <c>openssl s_client</c>, offering only <paramref name="flag"/>'s version with every cipher allowed, completes a handshake.</summary>
    private static async Task<bool> OpenSslNegotiatesAsync(int port, string flag, string protocol)
    {
        var (_, output) = await SClientAsync(port, $"{flag} -cipher DEFAULT:@SECLEVEL=0");
        return output.Contains($"Protocol  : {protocol}\n", StringComparison.Ordinal) && !output.Contains("Cipher is (NONE)", StringComparison.Ordinal);
    }

    /// <summary>Runs <c>openssl s_client</c> against a loopback port with the given options; its exit code and standard output.</summary>
    private static async Task<(int Exit, string Output)> SClientAsync(int port, string options)
    {
        var start = new ProcessStartInfo("openssl", $"s_client -connect 127.0.0.1:{port} {options} -servername localhost")
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
        return (process.ExitCode, output);
    }

    private static async Task<bool> OpenSslNegotiatesWithControlServerAsync(string flag, string protocol)
    {
        var folder = Directory.CreateTempSubdirectory("sg-tls-control-").FullName;
        try
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var now = TimeProvider.System.GetUtcNow();
            using var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
                .CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
            await File.WriteAllTextAsync(Path.Combine(folder, "c.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(folder, "k.pem"), key.ExportPkcs8PrivateKeyPem());
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();

            // s_server ends when its standard input closes: keep it open until the client is done.
            var start = new ProcessStartInfo("openssl", $"s_server -accept 127.0.0.1:{port} -cert c.pem -key k.pem {flag} -cipher DEFAULT:@SECLEVEL=0 -naccept 1")
            {
                WorkingDirectory = folder,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var server = Process.Start(start)!;
            try
            {
                string? line;
                while ((line = await server.StandardOutput.ReadLineAsync()) is not null && line != "ACCEPT")
                {
                }

                return line == "ACCEPT" && await OpenSslNegotiatesAsync(port, flag, protocol);
            }
            finally
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
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
        var (exit, output) = await SClientAsync(Port, $"-tls1_2 -cipher {cipher}");
        return exit == 0 && output.Contains("Cipher is " + cipher, StringComparison.Ordinal);
    }
}
