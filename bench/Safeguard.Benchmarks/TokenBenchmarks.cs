using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Benchmarks;

/// <summary>
/// The token engine against raw ECDSA on the same key and the same bytes, side by side in one run:
/// validating a new token vs <see cref="ECDsa.VerifyData(byte[], byte[], HashAlgorithmName)"/>, a cached token in
/// absolute time, and issuing vs <see cref="ECDsa.SignData(byte[], HashAlgorithmName)"/>.
/// </summary>
[MemoryDiagnoser]
public class TokenBenchmarks
{
    /// <summary>Distinct tokens validated per invocation of the "new token" benchmarks.</summary>
    public const int Batch = 1000;

    private const string IssuerUrl = "https://auth.example.test";
    private const string Audience = "https://api.example.test";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private AesGcmKeyProtector _protector = null!;
    private SigningKeyRing _ring = null!;
    private AccessTokenIssuer _issuer = null!;
    private AccessTokenValidator _cachedValidator = null!;
    private IOptions<AccessTokenValidationOptions> _validationOptions = null!;
    private AccessTokenRequest _request = null!;
    private string[] _tokens = null!;
    private byte[][] _signingInputs = null!;
    private byte[][] _signatures = null!;
    private ECDsa _publicKey = null!;
    private ECDsa _privateKey = null!;
    private byte[] _signInput = null!;

    [GlobalSetup]
    public void Setup()
    {
        _protector = new AesGcmKeyProtector(RandomNumberGenerator.GetBytes(32));
        _ring = new SigningKeyRing(new InMemorySigningKeyStore(), _protector, Options.Create(new KeyRingOptions()), _time, NullLogger<SigningKeyRing>.Instance);
        _ring.EnsureKeysAsync(CancellationToken.None).GetAwaiter().GetResult();
        _issuer = new AccessTokenIssuer(_ring, Options.Create(new AccessTokenOptions { Issuer = IssuerUrl }), _time, NullLogger<AccessTokenIssuer>.Instance);
        _validationOptions = Options.Create(new AccessTokenValidationOptions { Issuer = IssuerUrl, Audiences = { Audience } });
        _request = new AccessTokenRequest
        {
            Subject = "5f0c2a9e-7d41-4c3b-9a57-2f1e8b6d0c43",
            ClientId = "billing-service",
            Audiences = [Audience],
            Scopes = ["patient.read", "observation.read"],
        };

        _tokens = new string[Batch];
        _signingInputs = new byte[Batch][];
        _signatures = new byte[Batch][];
        for (var i = 0; i < Batch; i++)
        {
            var token = _issuer.Issue(_request).Token!;
            _tokens[i] = token;
            var lastDot = token.LastIndexOf('.');
            _signingInputs[i] = Encoding.ASCII.GetBytes(token[..lastDot]);
            _signatures[i] = Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
        }

        var key = _ring.GetSigningKey()!;
        _privateKey = ((ECDsaSecurityKey)key.SigningCredentials!.Key).ECDsa;
        _publicKey = ECDsa.Create();
        _publicKey.ImportSubjectPublicKeyInfo(_privateKey.ExportSubjectPublicKeyInfo(), out _);
        _signInput = _signingInputs[0];

        _cachedValidator = NewValidator();
        if (!_cachedValidator.Validate(_tokens[0]).IsValid || ValidateNew() != Batch || RawVerify() != Batch)
        {
            throw new InvalidOperationException("The benchmark tokens do not validate; the figures would measure the failure path.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cachedValidator.Dispose();
        _ring.Dispose();
        _protector.Dispose();
        _publicKey.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RawVerify()
    {
        var verified = 0;
        for (var i = 0; i < Batch; i++)
        {
            if (_publicKey.VerifyData(_signingInputs[i], _signatures[i], HashAlgorithmName.SHA256))
            {
                verified++;
            }
        }

        return verified;
    }

    /// <summary>Each token is new to the validator (a fresh, empty cache per batch), so each pays parse + signature + policy + cache insert.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ValidateNew()
    {
        using var validator = NewValidator();
        var valid = 0;
        for (var i = 0; i < Batch; i++)
        {
            if (validator.Validate(_tokens[i]).IsValid)
            {
                valid++;
            }
        }

        return valid;
    }

    [Benchmark]
    public bool ValidateCached() => _cachedValidator.Validate(_tokens[0]).IsValid;

    [Benchmark]
    public byte[] RawSign() => _privateKey.SignData(_signInput, HashAlgorithmName.SHA256);

    [Benchmark]
    public string? Issue() => _issuer.Issue(_request).Token;

    // ABBA order against host drift: BenchmarkDotNet runs methods in declaration order, and this VM's speed
    // drifts over minutes. Each pair is measured again in mirrored order at the end, and the ratio is taken over
    // both measurements, so a linear drift cancels.

    [Benchmark]
    public string? IssueAgain() => Issue();

    [Benchmark]
    public byte[] RawSignAgain() => RawSign();

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ValidateNewAgain() => ValidateNew();

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RawVerifyAgain() => RawVerify();

    private AccessTokenValidator NewValidator() =>
        new(_ring, _validationOptions, _time, NullLogger<AccessTokenValidator>.Instance);
}
