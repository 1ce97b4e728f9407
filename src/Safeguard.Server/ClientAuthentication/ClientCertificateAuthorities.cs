using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Safeguard.Server.Configuration;

namespace Safeguard.Server.ClientAuthentication;

/// <summary>The CAs whose client certificates <c>tls_client_auth</c> accepts.</summary>
/// <param name="anchors">The CA certificates.</param>
internal sealed class ClientCertificateAuthorities(X509Certificate2Collection anchors) : IDisposable
{
    /// <summary>The client CAs <c>tls_client_auth</c> trusts, from <see cref="TlsOptions.ClientCaPath"/>; none when it is not set.</summary>
    /// <param name="tls">The TLS options.</param>
    /// <returns>The authorities.</returns>
    public static ClientCertificateAuthorities From(TlsOptions tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        var anchors = new X509Certificate2Collection();
        if (tls.ClientCaPath is { } path)
        {
            anchors.ImportFromPemFile(path);
        }

        return new ClientCertificateAuthorities(anchors);
    }

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

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var anchor in anchors)
        {
            anchor.Dispose();
        }
    }
}
