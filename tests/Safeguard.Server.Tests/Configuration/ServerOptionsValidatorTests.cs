using Safeguard.Server.Configuration;

namespace Safeguard.Server.Tests.Configuration;

/// <summary>The server's own settings: the defaults made for a developer's machine are refused beyond loopback.</summary>
public sealed class ServerOptionsValidatorTests
{
    [Theory]
    [InlineData("https://127.0.0.1:5443")]
    [InlineData("https://localhost:5443")]
    [InlineData("https://[::1]:5443")]
    public void Loopback_MayUseTheDerivedIssuerAndTheDevelopmentCertificate(string listen)
    {
        var result = new ServerOptionsValidator().Validate(null, new ServerOptions { Listen = listen });

        Assert.True(result.Succeeded, string.Join(" | ", result.Failures ?? []));
    }

    [Theory]
    [InlineData("https://0.0.0.0:8443")]
    [InlineData("https://*:8443")]
    [InlineData("https://10.1.2.3:8443")]
    public void BeyondLoopback_AnExplicitIssuerAndARealCertificateAreRequired(string listen)
    {
        var result = new ServerOptionsValidator().Validate(null, new ServerOptions { Listen = listen });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures, f => f.Contains("Safeguard:Issuer", StringComparison.Ordinal));
        Assert.Contains(result.Failures, f => f.Contains("Safeguard:Tls:CertificatePath", StringComparison.Ordinal));
    }

    [Fact]
    public void BeyondLoopback_WithAnIssuerAndACertificate_IsAccepted()
    {
        var folder = Directory.CreateTempSubdirectory("sg-options-").FullName;
        try
        {
            var certificate = Path.Combine(folder, "c.pem");
            var key = Path.Combine(folder, "k.pem");
            File.WriteAllText(certificate, "placeholder");
            File.WriteAllText(key, "placeholder");

            var result = new ServerOptionsValidator().Validate(null, new ServerOptions
            {
                Listen = "https://0.0.0.0:8443",
                Issuer = "https://auth.hospital.example",
                Tls = new TlsOptions { CertificatePath = certificate, KeyPath = key },
            });

            Assert.True(result.Succeeded, string.Join(" | ", result.Failures ?? []));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("https://127.0.0.1:5443", "own port")]
    [InlineData("http://127.0.0.1:5444", "https endpoint")]
    [InlineData("https://0.0.0.0:5444", "Safeguard:Tls:CertificatePath")]
    public void TheManagementEndpoint_HasItsOwnPort_TlsAndLoopbackUnlessACertificateIsSet(string management, string expected)
    {
        var result = new ServerOptionsValidator().Validate(null, new ServerOptions { ManagementListen = management });

        Assert.True(result.Failed);
        Assert.Contains(result.Failures, f => f.Contains("Safeguard:ManagementListen", StringComparison.Ordinal) && f.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("https://[::1]:9000")]
    public void TheManagementEndpoint_MayBeOffOrOnAnyLoopbackPort(string? management)
    {
        var result = new ServerOptionsValidator().Validate(null, new ServerOptions { ManagementListen = management });

        Assert.True(result.Succeeded, string.Join(" | ", result.Failures ?? []));
    }
}
