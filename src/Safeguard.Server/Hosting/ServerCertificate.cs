using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Safeguard.AspNetCore;
using Safeguard.Hosting;
using Safeguard.Server.Configuration;

namespace Safeguard.Server.Hosting;

/// <summary>The TLS certificate the listener presents, loaded once when Kestrel starts (after the options passed validation).</summary>
internal sealed class ServerCertificate : IDisposable
{
    public ServerCertificate(IOptions<ServerOptions> options, SafeguardDataFolder folder, TimeProvider time)
    {
        var server = options.Value;
        Certificate = SafeguardTls.Load(server.Tls.CertificatePath, server.Tls.KeyPath, folder, new Uri(server.ResolveIssuer()).Host, time);
        Chain = SafeguardTls.Intermediates(server.Tls.CertificatePath);
        Fingerprint = SafeguardTls.Fingerprint(Certificate);
        DevelopmentCertificatePath = server.Tls.CertificatePath is null ? folder.TlsCertificate : null;
    }

    /// <summary>The certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The intermediates sent after it.</summary>
    public X509Certificate2Collection Chain { get; }

    /// <summary>Its SHA-256 fingerprint, logged at start-up.</summary>
    public string Fingerprint { get; }

    /// <summary>The development certificate's PEM path (for clients to trust), or null with a configured certificate.</summary>
    public string? DevelopmentCertificatePath { get; }

    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var certificate in Chain)
        {
            certificate.Dispose();
        }
    }
}
