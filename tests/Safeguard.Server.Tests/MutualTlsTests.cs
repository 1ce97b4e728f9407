using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duende.IdentityModel.Client;
using Safeguard.Audit;
using Safeguard.Clients;

namespace Safeguard.Server.Tests;

/// <summary>
/// RFC 8705 tls_client_auth with a PKI: the server trusts a client CA (Safeguard:Tls:ClientCaPath, generated here at
/// run time); a client is registered by subject DN and must present a certificate from that CA with that subject.
/// </summary>
public sealed class MutualTlsTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sg-mtls-").FullName;
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _otherCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private X509Certificate2 _ca = null!;
    private X509Certificate2 _otherCa = null!;
    private RunningServer _server = null!;

    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    public async Task InitializeAsync()
    {
        _ca = Authority("CN=Safeguard Test Client CA, O=General Hospital", _caKey);
        _otherCa = Authority("CN=Safeguard Test Client CA, O=General Hospital", _otherCaKey);
        var caFile = Path.Combine(_folder, "client-ca.pem");
        await File.WriteAllTextAsync(caFile, _ca.ExportCertificatePem());
        _server = await RunningServer.StartAsync(extra: $"--Safeguard:Tls:ClientCaPath={caFile}");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _ca.Dispose();
        _otherCa.Dispose();
        _caKey.Dispose();
        _otherCaKey.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task CertificateFromTheTrustedCaWithTheRegisteredSubject_GetsACertificateBoundToken()
    {
        await _server.AddClientAsync("lab-device", ClientAuthenticationMethods.TlsClientAuth, certificateSubject: "CN=lab-device, O=General Hospital");
        using var certificate = Issue(_ca, _caKey, "CN=lab-device, O=General Hospital", clientAuth: true, Now.AddDays(30));

        var response = await RequestAsync("lab-device", certificate);

        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        Assert.Equal(Base64Url.EncodeToString(SHA256.HashData(certificate.RawData)),
            Jws.Payload(response.AccessToken!).GetProperty("cnf").GetProperty("x5t#S256").GetString());
        var issued = (await _server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenIssued);
        Assert.Contains("auth=tls_client_auth", issued.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_OffersTlsClientAuth_OnceAClientCaIsConfigured()
    {
        var discovery = await _server.CreateClient().GetDiscoveryDocumentAsync(_server.ListenAddress);

        Assert.False(discovery.IsError, discovery.Error);
        Assert.Equal(["private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", "client_secret_basic", "none"], discovery.TokenEndpointAuthenticationMethodsSupported);
        Assert.True(discovery.TryGetBoolean("tls_client_certificate_bound_access_tokens"));
    }

    public static TheoryData<string> Refused => new() { "other-ca-same-subject", "trusted-ca-other-subject", "expired", "server-auth-only", "self-signed-same-subject" };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task AnyOtherCertificate_IsRefused(string variant)
    {
        var clientId = "lab-" + variant;
        await _server.AddClientAsync(clientId, ClientAuthenticationMethods.TlsClientAuth, certificateSubject: "CN=lab-device, O=General Hospital");
        using var certificate = variant switch
        {
            "other-ca-same-subject" => Issue(_otherCa, _otherCaKey, "CN=lab-device, O=General Hospital", clientAuth: true, Now.AddDays(30)),
            "trusted-ca-other-subject" => Issue(_ca, _caKey, "CN=other-device, O=General Hospital", clientAuth: true, Now.AddDays(30)),
            "expired" => Issue(_ca, _caKey, "CN=lab-device, O=General Hospital", clientAuth: true, Now.AddMinutes(-1)),
            "server-auth-only" => Issue(_ca, _caKey, "CN=lab-device, O=General Hospital", clientAuth: false, Now.AddDays(30)),
            _ => SelfSigned("CN=lab-device, O=General Hospital"),
        };

        var response = await RequestAsync(clientId, certificate);

        Assert.Equal("invalid_client", Jws.ErrorOf(response));
        Assert.StartsWith("SG3007", (await _server.AuditEventsAsync()).Last(e => e.Type == AuditEventType.TokenRefused).Reason, StringComparison.Ordinal);
    }

    private Task<TokenResponse> RequestAsync(string clientId, X509Certificate2 certificate) =>
        _server.CreateClient(certificate).RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = _server.TokenEndpoint,
            ClientId = clientId,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
        });

    private static X509Certificate2 Authority(string subject, ECDsa key)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(Now.AddDays(-1), Now.AddYears(1));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, ECDsa caKey, string subject, bool clientAuth, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(clientAuth ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        var notBefore = notAfter < Now ? notAfter.AddHours(-1) : Now.AddHours(-1);
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), notBefore, notAfter, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
