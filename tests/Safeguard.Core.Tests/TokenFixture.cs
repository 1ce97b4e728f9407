using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Tests;

/// <summary>A key ring, an issuer and a validator over an in-memory store and a fake clock, with a fresh KEK per instance.</summary>
internal sealed class TokenFixture : IDisposable
{
    public const string Issuer = "https://auth.example.test";
    public const string Audience = "https://api.example.test";

    public TokenFixture(string algorithm = SigningAlgorithms.ES256, Action<AccessTokenValidationOptions>? configureValidation = null, int rsaKeySize = 2048)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
        Store = new InMemorySigningKeyStore();
        Protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        KeyOptions = new KeyRingOptions { Algorithm = algorithm, RsaKeySize = rsaKeySize };
        Ring = new SigningKeyRing(Store, Protector, Options.Create(KeyOptions), Time, NullLogger<SigningKeyRing>.Instance);
        Ring.EnsureKeysAsync(CancellationToken.None).GetAwaiter().GetResult();
        TokenOptions = new AccessTokenOptions { Issuer = Issuer, AdditionalAllowedClaims = { "tenant" } };
        Issuer_ = new AccessTokenIssuer(Ring, Options.Create(TokenOptions), Time, NullLogger<AccessTokenIssuer>.Instance);
        ValidationOptions = new AccessTokenValidationOptions { Issuer = Issuer, Audiences = { Audience } };
        configureValidation?.Invoke(ValidationOptions);
        Revocations = new InMemoryAccessTokenRevocationList();
        Validator = new AccessTokenValidator(Ring, Options.Create(ValidationOptions), Time, NullLogger<AccessTokenValidator>.Instance, Revocations);
    }

    public FakeTimeProvider Time { get; }

    public InMemorySigningKeyStore Store { get; }

    public AesGcmKeyProtector Protector { get; }

    public KeyRingOptions KeyOptions { get; }

    public SigningKeyRing Ring { get; }

    public AccessTokenOptions TokenOptions { get; }

    public AccessTokenIssuer Issuer_ { get; }

    public AccessTokenValidationOptions ValidationOptions { get; }

    public InMemoryAccessTokenRevocationList Revocations { get; }

    public AccessTokenValidator Validator { get; }

    public SigningKey ActiveKey => Ring.GetSigningKey()!;

    public static AccessTokenRequest Request(string subject = "user-7f3a") => new()
    {
        Subject = subject,
        ClientId = "billing",
        Audiences = [Audience],
        Scopes = ["patient.read"],
    };

    public string IssueToken(AccessTokenRequest? request = null)
    {
        var result = Issuer_.Issue(request ?? Request());
        Assert.True(result.Succeeded, result.ErrorDescription);
        return result.Token!;
    }

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The payload of a well-formed token for this fixture, as JSON, with <paramref name="edit"/> applied.</summary>
    public string Payload(Action<Dictionary<string, object?>>? edit = null)
    {
        var claims = new Dictionary<string, object?>
        {
            ["iss"] = Issuer,
            ["sub"] = "user-7f3a",
            ["aud"] = Audience,
            ["exp"] = Now + 300,
            ["iat"] = Now,
            ["jti"] = "jti-" + Guid.NewGuid().ToString("N"),
            ["client_id"] = "billing",
            ["scope"] = "patient.read",
        };
        edit?.Invoke(claims);
        return System.Text.Json.JsonSerializer.Serialize(claims.Where(c => c.Value is not null).ToDictionary());
    }

    public string Header(string alg = SigningAlgorithms.ES256, string typ = "at+jwt", string? kid = null, string extra = "") =>
        $"{{\"alg\":\"{alg}\",\"typ\":\"{typ}\",\"kid\":\"{kid ?? ActiveKey.KeyId}\"{extra}}}";

    /// <summary>Signs header.payload with the ring's active private key (as the real issuer would).</summary>
    public string Sign(string headerJson, string payloadJson) => SignWith(ActivePrivateKey(), headerJson, payloadJson);

    public ECDsa ActivePrivateKey() => ((ECDsaSecurityKey)ActiveKey.SigningCredentials!.Key).ECDsa;

    public static string SignWith(ECDsa key, string headerJson, string payloadJson)
    {
        var input = Encode(headerJson) + "." + Encode(payloadJson);
        var signature = key.SignData(Encoding.ASCII.GetBytes(input), key.KeySize == 384 ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    public static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    public void Dispose()
    {
        Validator.Dispose();
        Ring.Dispose();
        Protector.Dispose();
    }
}
