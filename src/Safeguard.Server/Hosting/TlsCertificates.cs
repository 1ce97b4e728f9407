using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Safeguard.Server.Hosting;

/// <summary>
/// The server certificate: PEM files from configuration, or on the embedded default a self-signed ECDSA P-256
/// development certificate generated once into <c>DATA/tls/</c> (certificate PEM for clients to trust, key PEM 0600).
/// </summary>
internal static class TlsCertificates
{
    /// <summary>The folder under the data folder.</summary>
    public const string Folder = "tls";

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
    /// <param name="dataPath">The data folder.</param>
    /// <param name="hostName">The host name the certificate must cover (from the issuer).</param>
    /// <param name="time">The clock.</param>
    /// <param name="created">True when a development certificate was created now.</param>
    /// <returns>The certificate with its private key.</returns>
    public static X509Certificate2 Load(TlsOptions tls, string dataPath, string hostName, TimeProvider time, out bool created)
    {
        created = false;
        if (tls.CertificatePath is { } certificatePath && tls.KeyPath is { } keyPath)
        {
            return Exportable(X509Certificate2.CreateFromPemFile(certificatePath, keyPath));
        }

        return Development(dataPath, hostName, time, out created);
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

    /// <summary>The client CAs <c>tls_client_auth</c> trusts, from <see cref="TlsOptions.ClientCaPath"/>.</summary>
    /// <param name="tls">The TLS options.</param>
    /// <returns>The CA certificates; empty when none are configured.</returns>
    public static ClientCertificateAuthorities ClientAuthorities(TlsOptions tls)
    {
        var anchors = new X509Certificate2Collection();
        if (tls.ClientCaPath is { } path)
        {
            anchors.ImportFromPemFile(path);
        }

        return new ClientCertificateAuthorities(anchors);
    }

    private static X509Certificate2 Development(string dataPath, string hostName, TimeProvider time, out bool created)
    {
        created = false;

        var folder = Path.Combine(dataPath, Folder);
        var certificateFile = Path.Combine(folder, "server.crt");
        var keyFile = Path.Combine(folder, "server.key");
        if (File.Exists(certificateFile) && File.Exists(keyFile))
        {
            var existing = Exportable(X509Certificate2.CreateFromPemFile(certificateFile, keyFile));
            if (existing.NotAfter.ToUniversalTime() > time.GetUtcNow().UtcDateTime.AddDays(7))
            {
                return existing;
            }

            existing.Dispose();
        }

        Directory.CreateDirectory(folder);
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
        created = true;
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

/// <summary>The CAs whose client certificates <c>tls_client_auth</c> accepts.</summary>
/// <param name="anchors">The CA certificates.</param>
internal sealed class ClientCertificateAuthorities(X509Certificate2Collection anchors)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private bool IsAnchor(X509Certificate2 candidate)
    {
        foreach (var anchor in anchors)
        {
            if (ReferenceEquals(anchor, candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether any CA is configured.</summary>
    public bool Configured => anchors.Count > 0;

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to one of the CAs (their own trust only, never the system store),
    /// allows client authentication and is valid at <paramref name="now"/>. Revocation is not checked (no network
    /// access at run time); revoke a client here by disabling it.
    /// </summary>
    public bool Validates(X509Certificate2 certificate, DateTimeOffset now)
    {
        if (anchors.Count == 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        chain.ChainPolicy.DisableCertificateDownloads = true;
        try
        {
            return chain.Build(certificate);
        }
        catch (CryptographicException)
        {
            return false;
        }
        finally
        {
            // The chain's elements are copies holding native handles; free them now, not at finalization.
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate) && !IsAnchor(element.Certificate))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }
}
