using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Safeguard.Clients;

namespace Safeguard.Tests.Clients;

/// <summary>The registration rules the CLI (and the admin console to come) apply: every problem at once, each saying what to change.</summary>
public sealed class ClientRegistrationValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ASecretClient_IsValid_AndBecomesAnEnabledClient()
    {
        var result = ClientRegistrationValidator.Validate(new ClientRegistration { ClientId = "billing", Scopes = ["patient.read", "patient.read"], Resources = ["https://api.example"] });

        Assert.True(result.IsValid, string.Join(" ", result.Errors));
        var client = result.ToClient(Now, ClientSecrets.Hash("s"));
        Assert.True(client.Enabled);
        Assert.Equal(["patient.read"], client.AllowedScopes);
        Assert.Equal([GrantTypes.ClientCredentials], client.GrantTypes);
    }

    [Fact]
    public void EveryProblem_IsReportedAtOnce()
    {
        var result = ClientRegistrationValidator.Validate(new ClientRegistration
        {
            ClientId = "bad id",
            GrantTypes = ["password"],
            Scopes = ["patient read\""],
            Resources = [],
            IntrospectionResources = ["not a uri"],
        });

        Assert.False(result.IsValid);
        Assert.Equal(5, result.Errors.Count);
        Assert.Throws<InvalidOperationException>(() => result.ToClient(Now, null));
    }

    [Theory]
    [InlineData("https://api.example#frag")]
    [InlineData("relative/path")]
    [InlineData("ftp://files.example")]
    public void AResourceThatIsNotAnAbsoluteHttpsHttpOrUrnUriWithoutFragment_IsRefused(string resource)
    {
        var result = ClientRegistrationValidator.Validate(new ClientRegistration { ClientId = "c", Resources = [resource] });

        Assert.Single(result.Errors);
    }

    [Fact]
    public void PrivateKeyJwt_NeedsAJwksOfPublicSignatureKeys()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var weak = RSA.Create(1024);
        var p = ec.ExportParameters(includePrivateParameters: true);
        var publicKey = $"{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\"}}";
        var privateKey = publicKey[..^1] + $",\"d\":\"{Base64Url.EncodeToString(p.D)}\"}}";
        var r = weak.ExportParameters(false);
        var weakKey = $"{{\"kty\":\"RSA\",\"n\":\"{Base64Url.EncodeToString(r.Modulus)}\",\"e\":\"{Base64Url.EncodeToString(r.Exponent)}\"}}";

        Assert.True(Validate($"{{\"keys\":[{publicKey}]}}").IsValid);
        Assert.Contains(Validate(null).Errors, e => e.StartsWith("jwks:", StringComparison.Ordinal));
        Assert.Contains(Validate($"{{\"keys\":[{privateKey}]}}").Errors, e => e.Contains("private key material", StringComparison.Ordinal));
        Assert.Contains(Validate($"{{\"keys\":[{weakKey}]}}").Errors, e => e.Contains("2048", StringComparison.Ordinal));
        Assert.Contains(Validate($"{{\"keys\":[{string.Join(',', Enumerable.Repeat(publicKey, ClientJwks.MaxKeys + 1))}]}}").Errors, e => e.Contains("at most", StringComparison.Ordinal));
        Assert.Contains(Validate("{\"keys\":[],\"keys\":[]}").Errors, e => e.Contains("duplicate", StringComparison.Ordinal));
        Assert.Contains(Validate($"{{\"keys\":[{publicKey[..^1]},\"kid\":\"key.2024:1\"}}]}}").Errors, e => e.Contains("kid", StringComparison.Ordinal));

        static ClientRegistrationResult Validate(string? jwks) => ClientRegistrationValidator.Validate(
            new ClientRegistration { ClientId = "lab", AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt, Resources = ["https://api.example"], Jwks = jwks });
    }

    [Fact]
    public void TlsClientAuth_StoresTheSubjectInTheFormTheServerCompares()
    {
        var result = ClientRegistrationValidator.Validate(new ClientRegistration
        {
            ClientId = "device",
            AuthenticationMethod = ClientAuthenticationMethods.TlsClientAuth,
            Resources = ["https://api.example"],
            CertificateSubject = "CN=lab-device,O=General Hospital",
        });
        var invalid = ClientRegistrationValidator.Validate(new ClientRegistration
        {
            ClientId = "device",
            AuthenticationMethod = ClientAuthenticationMethods.TlsClientAuth,
            Resources = ["https://api.example"],
            CertificateSubject = "not=a=dn,,,",
        });

        Assert.True(result.IsValid, string.Join(" ", result.Errors));
        Assert.Equal("CN=lab-device, O=General Hospital", result.CertificateSubject);
        Assert.False(invalid.IsValid);
    }

    [Fact]
    public void SelfSignedTlsClientAuth_PinsTheCertificateBySha256()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=device", key, HashAlgorithmName.SHA256).CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));

        var result = ClientRegistrationValidator.Validate(new ClientRegistration
        {
            ClientId = "device",
            AuthenticationMethod = ClientAuthenticationMethods.SelfSignedTlsClientAuth,
            Resources = ["https://api.example"],
            CertificatePem = certificate.ExportCertificatePem(),
        });

        Assert.True(result.IsValid, string.Join(" ", result.Errors));
        Assert.Equal(Base64Url.EncodeToString(SHA256.HashData(certificate.RawData)), result.CertificateThumbprint);
        Assert.False(ClientRegistrationValidator.Validate(result.Registration with { CertificatePem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }).IsValid);
    }
}
