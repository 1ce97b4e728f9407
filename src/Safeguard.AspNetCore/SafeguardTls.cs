using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Safeguard.Hosting;

namespace Safeguard.AspNetCore;

/// <summary>
/// Safeguard's TLS policy, shared by the server and the gateway: TLS 1.2/1.3 with AEAD suites only, and the
/// certificate from PEM files, or on the embedded default a self-signed ECDSA P-256 development certificate generated
/// once into <c>DATA/tls/</c> (certificate PEM for clients to trust, key PEM 0600).
/// </summary>
public static class SafeguardTls
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

    /// <summary>
    /// Serves TLS on <paramref name="listen"/> with this policy: TLS 1.2/1.3, <see cref="CipherSuites"/>, the
    /// certificate and its intermediates. Client certificates are accepted in the handshake when allowed (each use
    /// decides whether it trusts one), never required.
    /// </summary>
    /// <param name="listen">The endpoint.</param>
    /// <param name="certificate">The certificate with its key.</param>
    /// <param name="chain">Its intermediates, sent in the handshake.</param>
    /// <param name="allowClientCertificates">Whether clients may present a certificate (mTLS client authentication, certificate-bound tokens).</param>
    /// <returns>The endpoint.</returns>
    public static ListenOptions UseSafeguardTls(this ListenOptions listen, X509Certificate2 certificate, X509Certificate2Collection? chain, bool allowClientCertificates) =>
        listen.UseHttps(options =>
        {
            options.ServerCertificate = certificate;
            options.ServerCertificateChain = chain;
            options.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
            options.ClientCertificateMode = allowClientCertificates ? ClientCertificateMode.AllowCertificate : ClientCertificateMode.NoCertificate;

            // The handshake accepts any client certificate; what it proves is decided per use (a client's registered
            // certificate, a token's cnf). Other requests ignore it.
            options.ClientCertificateValidation = (_, _, _) => true;
            options.OnAuthenticate = (_, ssl) =>
            {
                if (!OperatingSystem.IsWindows())
                {
                    ssl.CipherSuitesPolicy = new CipherSuitesPolicy(CipherSuites);
                }
            };
        });

    /// <summary>Loads the configured certificate, or the development certificate (creating it when missing).</summary>
    /// <param name="certificatePath">The certificate PEM (leaf first, then intermediates); null for the development certificate.</param>
    /// <param name="keyPath">Its private key PEM.</param>
    /// <param name="folder">The data folder (where the development certificate lives).</param>
    /// <param name="hostName">The host name the certificate must cover.</param>
    /// <param name="time">The clock.</param>
    /// <returns>The certificate with its private key.</returns>
    public static X509Certificate2 Load(string? certificatePath, string? keyPath, SafeguardDataFolder folder, string hostName, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (certificatePath is not null && keyPath is not null)
        {
            return Exportable(X509Certificate2.CreateFromPemFile(certificatePath, keyPath));
        }

        return Development(folder, hostName, time);
    }

    /// <summary>The intermediates after the leaf in the configured PEM file, sent in the handshake so clients can build the chain.</summary>
    /// <param name="certificatePath">The certificate PEM; null for the development certificate.</param>
    /// <returns>The intermediates; empty for the development certificate.</returns>
    public static X509Certificate2Collection Intermediates(string? certificatePath)
    {
        var chain = new X509Certificate2Collection();
        if (certificatePath is { } path)
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
    public static string Fingerprint(X509Certificate2 certificate) => certificate is null ? throw new ArgumentNullException(nameof(certificate)) :
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
