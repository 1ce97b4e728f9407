using System.Net.Security;
using Yarp.ReverseProxy.Forwarder;

namespace Safeguard.Gateway;

/// <summary>
/// YARP's client to the upstreams, with each cluster's certificate pin (SHA-256) when it sets one, else the system
/// trust store; TLS 1.2 or 1.3.
/// </summary>
internal sealed class PinnedForwarderHttpClientFactory(GatewayOptions options) : ForwarderHttpClientFactory
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.SslOptions.EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
        if (options.Clusters.TryGetValue(context.ClusterId, out var cluster) && cluster.CertificateSha256 is { } pin)
        {
            var pinned = Fingerprint.Normalize(pin);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && Fingerprint.Of(certificate) == pinned;
        }
        else
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None;
        }
    }
}
