using Safeguard.Keys;
using Safeguard.Server.Endpoints;

namespace Safeguard.Server.Hosting;

/// <summary>What the host resolved at start-up: the endpoints, the data folder, the KEK, the TLS certificate.</summary>
internal sealed class ServerContext(ServerEndpoints endpoints, string dataPath, AesGcmKeyProtector protector, string certificateFingerprint, string? developmentCertificatePath) : IDisposable
{
    public ServerEndpoints Endpoints { get; } = endpoints;

    public string DataPath { get; } = dataPath;

    public AesGcmKeyProtector Protector { get; } = protector;

    public string CertificateFingerprint { get; } = certificateFingerprint;

    /// <summary>The development certificate's PEM path (for clients to trust), or null with a configured certificate.</summary>
    public string? DevelopmentCertificatePath { get; } = developmentCertificatePath;

    public void Dispose() => Protector.Dispose();
}
