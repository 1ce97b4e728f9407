using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Safeguard.Keys;

namespace Safeguard.Tests.Hosting;

/// <summary>
/// The core composed as a host composes it (<c>AddSafeguardCore</c> over a configuration), with an in-memory key store
/// and key-encryption key in place of the storage, for tests of what the composition validates and builds.
/// </summary>
internal static class CoreComposition
{
    public static ServiceProvider Build(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton(new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(AesGcmKeyProtector.KeySize)));
        services.AddSingleton<ISigningKeyStore, InMemorySigningKeyStore>();
        configure?.Invoke(services);
        services.AddSafeguardCore(configuration);
        return services.BuildServiceProvider();
    }
}
