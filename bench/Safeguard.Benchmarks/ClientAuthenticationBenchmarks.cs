using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Safeguard.Clients;
using Safeguard.Hosting;
using Safeguard.Server.ClientAuthentication;
using Safeguard.Server.OAuth;
using Safeguard.Storage.Data;

namespace Safeguard.Benchmarks;

/// <summary>
/// Client enumeration by timing: the server's client authentication (form read included) refusing a wrong credential
/// for an id that is unknown, registered for another method, or registered for the method used. For each way of
/// presenting credentials the three should cost the same; bench/run.sh prints the ratios (1.0 is no signal). Real
/// SQLite stores behind the registry, as in the server.
/// </summary>
public class ClientAuthenticationBenchmarks
{
    private const string Issuer = "https://auth.bench.example";
    private readonly string[] _audiences = [Issuer, Issuer + "/token"];
    private string _directory = null!;
    private SafeguardDatabase _database = null!;
    private ClientAuthenticator _authenticator = null!;
    private byte[] _plainForm = null!;
    private byte[] _assertionUnknown = null!;
    private byte[] _assertionOtherMethod = null!;
    private byte[] _assertionBadSignature = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("safeguard-bench-auth-").FullName;
        var folder = SafeguardDataFolder.At(_directory).EnsureCreated();
        _database = SafeguardDatabase.Open(new DatabaseOptions(), folder);
        _database.MigrateAsync(CancellationToken.None).GetAwaiter().GetResult();
        var store = new EfClientStore(_database);
        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var now = TimeProvider.System.GetUtcNow();
        var q = clientKey.ExportParameters(false).Q;
        store.AddAsync(new Client { ClientId = "secret-client", AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic, SecretHash = ClientSecrets.Hash(ClientSecrets.Generate()), CreatedAt = now, UpdatedAt = now }, CancellationToken.None).GetAwaiter().GetResult();
        store.AddAsync(new Client
        {
            ClientId = "key-client",
            AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt,
            Jwks = $"{{\"keys\":[{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(q.X)}\",\"y\":\"{Base64Url.EncodeToString(q.Y)}\"}}]}}",
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None).GetAwaiter().GetResult();
        var registry = new ClientRegistry(store);
        registry.LoadAsync(CancellationToken.None).GetAwaiter().GetResult();
        var assertions = new ClientAssertionValidator(new EfReplayCache(_database), TimeProvider.System, NullLogger<ClientAssertionValidator>.Instance);
        _authenticator = new ClientAuthenticator(registry, assertions, new ClientCertificateAuthorities([]), TimeProvider.System);

        _plainForm = Encoding.ASCII.GetBytes("grant_type=client_credentials");
        _assertionUnknown = AssertionForm(attacker, "nobody-at-all");
        _assertionOtherMethod = AssertionForm(attacker, "secret-client");
        _assertionBadSignature = AssertionForm(attacker, "key-client");

        // Each case must be the failure it stands for.
        Expect(Run(Basic("nobody-at-all"), _plainForm), SafeguardErrorCodes.ClientUnknown);
        Expect(Run(Basic("key-client"), _plainForm), SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed);
        Expect(Run(Basic("secret-client"), _plainForm), SafeguardErrorCodes.ClientSecretInvalid);
        Expect(Run(null, _assertionUnknown), SafeguardErrorCodes.ClientUnknown);
        Expect(Run(null, _assertionOtherMethod), SafeguardErrorCodes.ClientAuthenticationMethodNotAllowed);
        Expect(Run(null, _assertionBadSignature), SafeguardErrorCodes.ClientAssertionInvalid);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _database.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    // Each case runs twice, in ABC-CBA order, and the figures average the pair: the machine's drift during the run
    // then weighs on every case alike.
    [Benchmark]
    public bool BasicUnknown() => Succeeds(Basic("nobody-at-all"), _plainForm);

    [Benchmark]
    public bool BasicOtherMethod() => Succeeds(Basic("key-client"), _plainForm);

    [Benchmark]
    public bool BasicWrongSecret() => Succeeds(Basic("secret-client"), _plainForm);

    [Benchmark]
    public bool BasicWrongSecretAgain() => Succeeds(Basic("secret-client"), _plainForm);

    [Benchmark]
    public bool BasicOtherMethodAgain() => Succeeds(Basic("key-client"), _plainForm);

    [Benchmark]
    public bool BasicUnknownAgain() => Succeeds(Basic("nobody-at-all"), _plainForm);

    [Benchmark]
    public bool AssertionUnknown() => Succeeds(null, _assertionUnknown);

    [Benchmark]
    public bool AssertionOtherMethod() => Succeeds(null, _assertionOtherMethod);

    [Benchmark]
    public bool AssertionBadSignature() => Succeeds(null, _assertionBadSignature);

    [Benchmark]
    public bool AssertionBadSignatureAgain() => Succeeds(null, _assertionBadSignature);

    [Benchmark]
    public bool AssertionOtherMethodAgain() => Succeeds(null, _assertionOtherMethod);

    [Benchmark]
    public bool AssertionUnknownAgain() => Succeeds(null, _assertionUnknown);

    private static string Basic(string clientId) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":wrong-secret-0123456789abcdefghijklmnopqrstuv"));

    private bool Succeeds(string? authorization, byte[] body) => Run(authorization, body).Succeeded;

    private ClientAuthenticationResult Run(string? authorization, byte[] body)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.ContentType = "application/x-www-form-urlencoded";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body, writable: false);
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        var form = OAuthForm.ReadAsync(context.Request, CancellationToken.None).GetAwaiter().GetResult().Form
            ?? throw new InvalidOperationException("The benchmark's form does not parse.");
        return _authenticator.AuthenticateAsync(context, form, _audiences, CancellationToken.None).GetAwaiter().GetResult();
    }

    private static void Expect(ClientAuthenticationResult result, string code)
    {
        if (result.Succeeded || result.Failure.Code != code)
        {
            throw new InvalidOperationException($"Expected a failure {code}, got {(result.Succeeded ? "success" : result.Failure.Code)}.");
        }
    }

    private static byte[] AssertionForm(ECDsa key, string clientId)
    {
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var header = Base64Url.EncodeToString("{\"alg\":\"ES256\",\"typ\":\"JWT\"}"u8);
        var payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{{\"iss\":\"{clientId}\",\"sub\":\"{clientId}\",\"aud\":\"{Issuer}\",\"exp\":{now + 3600},\"jti\":\"{Guid.NewGuid():N}\"}}"));
        var input = header + "." + payload;
        var jwt = input + "." + Base64Url.EncodeToString(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
        return Encoding.ASCII.GetBytes("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + jwt);
    }
}
