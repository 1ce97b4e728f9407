using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Safeguard.Hosting;
using Safeguard.Server.Configuration;

namespace Safeguard.Server.Hosting;

/// <summary>
/// The server certificate: PEM files from configuration, or on the embedded default a self-signed ECDSA P-256
/// development certificate generated once into <c>DATA/tls/</c> (certificate PEM for clients to trust, key PEM 0600).
/// </summary>
internal static class TlsCertificates
{
    /// <summary>
    /// The cipher suites offered: TLS 1.3's AEAD suites and, for TLS 1.2, ECDHE key exchange with AEAD ciphers only
    /// (NIST SP 800-52r2 section 3.3.1). No CBC, no RSA key transport, no SHA-1 MACs.
    /// </summary>
    public static IReadOnlyList<TlsCipherSuite> CipherSuites { get; } =
    [
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>Loads the configured certificate, or the development certificate (creating it when missing).</summary>
    /// <param name="tls">The TLS options.</param>
    /// <param name="folder">The data folder (where the development certificate lives).</param>
    /// <param name="hostName">The host name the certificate must cover (from the issuer).</param>
    /// <param name="time">The clock.</param>
    /// <returns>The certificate with its private key.</returns>
    public static X509Certificate2 Load(TlsOptions tls, SafeguardDataFolder folder, string hostName, TimeProvider time)
    {
        if (tls.CertificatePath is { } certificatePath && tls.KeyPath is { } keyPath)
        {
            return Exportable(X509Certificate2.CreateFromPemFile(certificatePath, keyPath));
        }

        return Development(folder, hostName, time);
    }

    /// <summary>The intermediates after the leaf in the configured PEM file, sent in the handshake so clients can build the chain.</summary>
    /// <param name="tls">The TLS options.</param>
    /// <returns>The intermediates; empty for the development certificate.</returns>
    public static X509Certificate2Collection Intermediates(TlsOptions tls)
    {
        var chain = new X509Certificate2Collection();
        if (tls.CertificatePath is { } path)
        {
            chain.ImportFromPemFile(path);
            if (chain.Count > 0)
            {
                var leaf = chain[0];
                chain.RemoveAt(0);
                leaf.Dispose();
            }
        }

        return chain;
    }

    private static X509Certificate2 Development(SafeguardDataFolder folder, string hostName, TimeProvider time)
    {
        var certificateFile = folder.TlsCertificate;
        var keyFile = folder.TlsKey;
        if (File.Exists(certificateFile) && File.Exists(keyFile))
        {
            var existing = Exportable(X509Certificate2.CreateFromPemFile(certificateFile, keyFile));
            if (existing.NotAfter.ToUniversalTime() > time.GetUtcNow().UtcDateTime.AddDays(7))
            {
                return existing;
            }

            existing.Dispose();
        }

        Directory.CreateDirectory(folder.Tls);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostName}, O=Safeguard development certificate", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        if (IPAddress.TryParse(hostName, out var hostAddress))
        {
            if (!IPAddress.IsLoopback(hostAddress))
            {
                names.AddIpAddress(hostAddress);
            }
        }
        else if (!string.Equals(hostName, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            names.AddDnsName(hostName);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = time.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(365));

        WritePrivate(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        return Exportable(X509Certificate2.CreateFromPemFile(certificateFile, keyFile));
    }

    /// <summary>The SHA-256 fingerprint, as browsers and <c>openssl x509 -fingerprint -sha256</c> show it.</summary>
    /// <param name="certificate">The certificate.</param>
    /// <returns>Colon-separated upper-case hex.</returns>
    public static string Fingerprint(X509Certificate2 certificate) =>
        string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    private static void WritePrivate(string path, string content)
    {
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(path, content);
            return;
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }

    // A certificate loaded from PEM carries an ephemeral key; SslStream on Linux accepts it as is, but a
    // PKCS#12 round-trip gives every platform a key it can use for the handshake.
    private static X509Certificate2 Exportable(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
