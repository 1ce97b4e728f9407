using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Sessions;
using Safeguard.Tokens;
using Safeguard.Users;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Composes Safeguard's core: the data folder and its key-encryption key, the key ring, issuance, validation, DPoP and the audit writer.</summary>
public static class SafeguardCoreServiceCollectionExtensions
{
    /// <summary>
    /// Adds the core services, each option bound once from the <c>Safeguard</c> section of
    /// <paramref name="configuration"/>, checked by its validator (every error reported) when the host starts:
    /// <list type="bullet">
    /// <item><c>Safeguard:DataPath</c>: <see cref="SafeguardDataFolder"/>, and its key-encryption key as <see cref="IKeyProtector"/> (disposed, so zeroed, with the container).</item>
    /// <item><c>Safeguard:Keys</c>: <see cref="SigningKeyRing"/> (also the <see cref="IVerificationKeySource"/>).</item>
    /// <item><c>Safeguard:Tokens</c>: <see cref="AccessTokenIssuer"/>; and <see cref="AccessTokenValidator"/> with <see cref="AccessTokenValidationOptions"/>,
    /// which the host configures (its issuer and audiences) and validates on start.</item>
    /// <item><c>Safeguard:Dpop</c>: <see cref="DpopProofValidator"/> with nonces keyed from the KEK.</item>
    /// <item><see cref="ClientAssertionValidator"/>.</item>
    /// <item><c>Safeguard:Passwords</c>: <see cref="PasswordPolicy"/> (NIST SP 800-63B rules and the blocklist) and <see cref="PasswordHasher"/> (Argon2id).</item>
    /// <item><c>Safeguard:SignIn</c>: <see cref="PasswordSignIn"/> (uniform refusals, back-off, lockout) and its <see cref="SignInMonitor"/>.</item>
    /// <item><c>Safeguard:Sessions</c>: <see cref="SessionManager"/> (idle and absolute limits).</item>
    /// <item><c>Safeguard:Mfa</c>: <see cref="TotpAuthenticators"/> (seeds sealed under the KEK) and <see cref="RecoveryCodes"/>.</item>
    /// <item><c>Safeguard:Audit</c>: <see cref="AuditWriter"/>, its <see cref="AuditSigningKeys"/> and the checkpoint copies (<see cref="CheckpointDestinations"/>).</item>
    /// </list>
    /// The stores these need (<see cref="ISigningKeyStore"/>, <see cref="IReplayCache"/>, <see cref="IAuthenticatorStore"/>, <see cref="IAuditStore"/>, ...)
    /// come from <c>AddSafeguardStorage</c>. <see cref="TimeProvider"/> is <see cref="TimeProvider.System"/> unless one
    /// was registered first. Calling this twice is harmless.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration (see <see cref="SafeguardConfiguration"/> for its sources).</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddSafeguardCore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SafeguardConfiguration.Section);
        services.AddOptions();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSafeguardOptions<DataFolderOptions, DataFolderOptionsValidator>(section);
        services.TryAddSingleton(sp => SafeguardDataFolder.At(sp.GetRequiredService<IOptions<DataFolderOptions>>().Value.DataPath).EnsureCreated());
        services.TryAddSingleton(sp => sp.GetRequiredService<SafeguardDataFolder>().OpenKeyEncryptionKey());
        services.TryAddSingleton<IKeyProtector>(sp => sp.GetRequiredService<AesGcmKeyProtector>());

        services.AddSafeguardOptions<KeyRingOptions, KeyRingOptionsValidator>(section.GetSection("Keys"));
        services.TryAddSingleton<SigningKeyRing>();
        services.TryAddSingleton<IVerificationKeySource>(sp => sp.GetRequiredService<SigningKeyRing>());

        // Issuance and validation name the host's issuer, which the host sets; it validates them on start.
        services.AddSafeguardOptions<AccessTokenOptions, AccessTokenOptionsValidator>(section.GetSection("Tokens"), validateOnStart: false);
        services.AddSafeguardOptions<AccessTokenValidationOptions, AccessTokenValidationOptionsValidator>(section.GetSection("Validation"), validateOnStart: false);
        services.TryAddSingleton<AccessTokenIssuer>();
        services.TryAddSingleton<AccessTokenValidator>();
        services.TryAddSingleton<IdTokenIssuer>();
        services.TryAddSingleton<LogoutTokenIssuer>();
        services.TryAddSingleton<IdTokenHintReader>();

        services.AddSafeguardOptions<DpopOptions, DpopOptionsValidator>(section.GetSection("Dpop"));
        services.TryAddSingleton(sp => new DpopNonces(
            sp.GetRequiredService<AesGcmKeyProtector>().DeriveKey("safeguard dpop nonce", 32),
            sp.GetRequiredService<IOptions<DpopOptions>>().Value.NonceStep,
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<DpopProofValidator>();
        services.TryAddSingleton<ClientAssertionValidator>();

        services.AddSafeguardOptions<PasswordOptions, PasswordOptionsValidator>(section.GetSection("Passwords"));
        services.TryAddSingleton<PasswordHasher>();
        services.TryAddSingleton<PasswordPolicy>();
        services.AddSafeguardOptions<SignInOptions, SignInOptionsValidator>(section.GetSection("SignIn"));
        services.TryAddSingleton<SignInMonitor>();
        services.TryAddSingleton<PasswordSignIn>();
        services.AddSafeguardOptions<MfaOptions, MfaOptionsValidator>(section.GetSection("Mfa"));
        services.AddSafeguardOptions<SessionOptions, SessionOptionsValidator>(section.GetSection("Sessions"));
        services.TryAddSingleton<SessionManager>();
        services.TryAddSingleton<TotpAuthenticators>();
        services.TryAddSingleton<RecoveryCodes>();
        services.TryAddSingleton<EnrolmentLinks>();

        services.AddSafeguardOptions<AuditOptions, AuditOptionsValidator>(section.GetSection("Audit"));
        services.TryAddSingleton(sp => sp.GetRequiredService<SafeguardDataFolder>().OpenAuditKeys(sp.GetRequiredService<IKeyProtector>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => CheckpointDestinations.Of(sp.GetRequiredService<IOptions<AuditOptions>>().Value, sp.GetRequiredService<SafeguardDataFolder>()));
        services.TryAddSingleton<IAuditCheckpointSink>(sp => sp.GetRequiredService<CheckpointDestinations>().CreateSink());
        services.TryAddSingleton(sp => CreateAuditWriter(sp, sp.GetRequiredService<IOptions<AuditOptions>>().Value.ChainId is { Length: > 0 } chain ? chain : null));
        return services;
    }

    /// <summary>The audit writer of the composition in <paramref name="services"/>, on <paramref name="chain"/> or else the data folder's default chain.</summary>
    /// <param name="services">The composed services.</param>
    /// <param name="chain">The chain id; null for <see cref="SafeguardDataFolder.DefaultAuditChain"/>.</param>
    /// <returns>The writer (not started).</returns>
    public static AuditWriter CreateAuditWriter(IServiceProvider services, string? chain)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetRequiredService<IOptions<AuditOptions>>().Value;
        return new AuditWriter(
            services.GetRequiredService<IAuditStore>(),
            services.GetRequiredService<AuditSigningKeys>(),
            services.GetRequiredService<IAuditCheckpointSink>(),
            Microsoft.Extensions.Options.Options.Create(options with { ChainId = chain ?? services.GetRequiredService<SafeguardDataFolder>().DefaultAuditChain() }),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<AuditWriter>>());
    }

    /// <summary>
    /// Binds an options type from a configuration section once, registers its validator (which reports every
    /// error) and, unless told otherwise, validates it when the host starts (<c>ValidateOnStart</c>).
    /// </summary>
    /// <typeparam name="TOptions">The options.</typeparam>
    /// <typeparam name="TValidator">Their validator.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="section">The section to bind.</param>
    /// <param name="validateOnStart">Whether a start fails on invalid values (true), or only the first use of the options.</param>
    /// <returns>The options builder, for further configuration.</returns>
    public static OptionsBuilder<TOptions> AddSafeguardOptions<TOptions, TValidator>(this IServiceCollection services, IConfiguration section, bool validateOnStart = true)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        var builder = services.AddOptions<TOptions>();
        if (!services.Any(d => d.ServiceType == typeof(BoundMarker<TOptions>)))
        {
            services.AddSingleton<BoundMarker<TOptions>>();
            builder.Bind(section);
        }

        return validateOnStart ? builder.ValidateOnStart() : builder;
    }

    /// <summary>Remembers that an options type is bound, so a second call does not bind it twice (lists would be appended twice).</summary>
    private sealed class BoundMarker<TOptions>;
}
