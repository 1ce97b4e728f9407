using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Dpop;
using Safeguard.Jose;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Tests.Jose;

/// <summary>
/// The attack table of the access-token validator, run against every kind of JWS the product reads: access tokens,
/// DPoP proofs, client assertions, audit checkpoints and archive manifests. Each row forges one rule-breaking JWS and
/// signs it with the key the use trusts (so only the policy, not a bad signature, can refuse it), after a control that
/// the well-formed JWS of that use is accepted.
/// </summary>
public sealed class JwsUseAttackTests
{
    private static readonly string[] Uses = ["access token", "DPoP proof", "client assertion", "audit checkpoint", "audit archive manifest", "ID token hint"];

    private static readonly Dictionary<string, Func<Harness, string?>> Attacks = new(StringComparer.Ordinal)
    {
        ["alg none"] = h => h.Unsigned(h.Header(alg: "none")),
        ["alg None (capitalised)"] = h => h.Unsigned(h.Header(alg: "None")),
        ["alg missing"] = h => h.Signed(h.Header(alg: null), h.Payload()),
        ["HS256 with the public key as the secret (key confusion)"] = h => h.Hmac(h.Header(alg: "HS256")),
        ["RS256 over an EC key"] = h => h.Signed(h.Header(alg: "RS256"), h.Payload()),
        ["alg es256 (case differs)"] = h => h.Signed(h.Header(alg: "es256"), h.Payload()),
        ["duplicate header member"] = h => h.Signed(h.Header(extra: ",\"typ\":\"JWT\""), h.Payload()),
        ["duplicate payload member, nested"] = h => h.Signed(h.Header(), h.Payload(extra: ",\"x\":{\"a\":1,\"a\":2}")),
        ["duplicate payload member, escaped name"] = h => h.Signed(h.Header(), h.Payload(extra: ",\"d\":1,\"\\u0064\":2")),
        ["crit"] = h => h.Signed(h.Header(extra: ",\"crit\":[\"exp\"],\"exp\":1"), h.Payload()),
        ["jku (SSRF)"] = h => h.Signed(h.Header(extra: ",\"jku\":\"http://127.0.0.1:1/jwks\""), h.Payload()),
        ["x5u (SSRF)"] = h => h.Signed(h.Header(extra: ",\"x5u\":\"http://127.0.0.1:1/cert\""), h.Payload()),
        ["x5c"] = h => h.Signed(h.Header(extra: ",\"x5c\":[\"MIIB\"]"), h.Payload()),
        ["jwk of the attacker, signed by it (CVE-2018-0114)"] = h => h.SignedByAttacker(embedKey: true),
        ["jwk carrying its private key"] = h => h.Signed(h.Header(jwk: h.PrivateJwk()), h.Payload()),
        ["kid path traversal"] = h => h.Signed(h.Header(kid: "../../../dev/null"), h.Payload()),
        ["kid SQL injection"] = h => h.Signed(h.Header(kid: "' OR 1=1--"), h.Payload()),
        ["non-canonical base64url (unused bits set)"] = h => h.NonCanonical(),
        ["padded base64url"] = h => h.Padded(),
        ["five segments (JWE, CVE-2024-21319)"] = h => h.Segments(5),
        ["four segments"] = h => h.Segments(4),
        ["two segments"] = h => h.Segments(2),
        ["larger than the policy allows"] = h => h.Signed(h.Header(), h.Payload(extra: $",\"pad\":\"{new string('a', h.Policy.MaxLength)}\"")),
        ["invalid UTF-8 in the payload"] = h => h.SignedRaw(Encoding.UTF8.GetBytes(h.Header()), [.. Encoding.UTF8.GetBytes(h.Payload()[..^1] + ",\"u\":\""), 0xC3, 0x28, .. "\"}"u8]),
        ["lone surrogate escape"] = h => h.Signed(h.Header(), h.Payload(extra: ",\"u\":\"\\udc00\"")),
        ["byte-order mark"] = h => h.SignedRaw(Encoding.UTF8.GetBytes(h.Header()), [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(h.Payload())]),
        ["payload is an array"] = h => h.Signed(h.Header(), "[1,2]"),
        ["header is a string"] = h => h.Signed("\"ES256\"", h.Payload()),
        ["JSON nested deeper than 8"] = h => h.Signed(h.Header(), h.Payload(extra: ",\"n\":[[[[[[[[[[1]]]]]]]]]]")),
        ["comment in JSON"] = h => h.Signed(h.Header(), h.Payload(extra: "/* c */")),
        ["typ of another use"] = h => h.Signed(h.Header(typ: h.ForeignType), h.Payload()),
        ["typ missing"] = h => h.Policy.TypeOptional ? null : h.Signed(h.Header(typ: null), h.Payload()),
        ["signed by another key"] = h => h.SignedByAttacker(embedKey: false),
        ["psychic signature r = s = 0 (CVE-2022-21449)"] = h => h.WithSignature(new byte[64]),
        ["empty signature (CVE-2020-28042)"] = h => h.WithSignature([]),
        ["signature truncated"] = h => h.Truncated(),
        ["signature in DER form"] = h => h.DerSignature(),
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var use in Uses)
        {
            foreach (var attack in Attacks.Keys)
            {
                data.Add(use, attack);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EveryUse_RefusesTheAttack(string use, string attack)
    {
        using var harness = Harness.For(use);
        Assert.True(await harness.AcceptsAsync(harness.Signed(harness.Header(), harness.Payload())), $"control: a well-formed {use} is refused");

        var forged = Attacks[attack](harness);
        if (forged is null)
        {
            return; // The rule does not apply to this use (a client assertion may omit typ, RFC 7523).
        }

        Assert.False(await harness.AcceptsAsync(forged), $"{use} accepted: {attack}");
    }

    [Fact]
    public void EveryPolicy_IsInTheTable()
    {
        Assert.Equal(JwsPolicies.All.Select(p => p.Use).Order(StringComparer.Ordinal), Uses.Order(StringComparer.Ordinal));
    }

    /// <summary>One use: its policy, a well-formed header and payload, its legitimate key, and its verifier.</summary>
    private abstract class Harness : IDisposable
    {
        protected Harness(JwsPolicy policy, string foreignType)
        {
            Policy = policy;
            ForeignType = foreignType;
        }

        public JwsPolicy Policy { get; }

        public string ForeignType { get; }

        protected ECDsa Key { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        protected virtual string? KeyId => null;

        protected virtual bool EmbedsKey => false;

        protected DateTimeOffset Now { get; } = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

        public static Harness For(string use) => use switch
        {
            "access token" => new AccessTokenHarness(),
            "DPoP proof" => new DpopHarness(),
            "client assertion" => new ClientAssertionHarness(),
            "audit checkpoint" => new AuditHarness(JwsPolicies.AuditCheckpoint, manifest: false),
            "ID token hint" => new IdTokenHintHarness(),
            _ => new AuditHarness(JwsPolicies.AuditArchiveManifest, manifest: true),
        };

        public abstract Task<bool> AcceptsAsync(string jws);

        public string Header(string? alg = "ES256", string? typ = "", string? kid = "", string extra = "", string? jwk = "")
        {
            var members = new List<string>();
            if (alg is not null)
            {
                members.Add($"\"alg\":\"{alg}\"");
            }

            typ = typ == "" ? Policy.Types[0] : typ;
            if (typ is not null)
            {
                members.Add($"\"typ\":\"{typ}\"");
            }

            kid = kid == "" ? KeyId : kid;
            if (kid is not null)
            {
                members.Add($"\"kid\":{JsonSerializer.Serialize(kid)}");
            }

            jwk = jwk == "" ? (EmbedsKey ? PublicJwk(Key) : null) : jwk;
            if (jwk is not null)
            {
                members.Add($"\"jwk\":{jwk}");
            }

            return "{" + string.Join(',', members) + extra + "}";
        }

        public abstract string Payload(string extra = "");

        public string Signed(string header, string payload) => SignedRaw(Encoding.UTF8.GetBytes(header), Encoding.UTF8.GetBytes(payload));

        public string SignedRaw(byte[] header, byte[] payload)
        {
            var input = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
            return input + "." + Base64Url.EncodeToString(Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
        }

        public string Unsigned(string header) => TokenFixture.Encode(header) + "." + TokenFixture.Encode(Payload()) + ".";

        public string Hmac(string header)
        {
            var input = TokenFixture.Encode(header) + "." + TokenFixture.Encode(Payload());
            return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(Key.ExportSubjectPublicKeyInfo(), Encoding.ASCII.GetBytes(input)));
        }

        public string? SignedByAttacker(bool embedKey)
        {
            if (embedKey && EmbedsKey)
            {
                return null; // A DPoP proof is made with the key it names: that is its design, not an attack.
            }

            using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var header = Header(jwk: embedKey || EmbedsKey ? PublicJwk(EmbedsKey && !embedKey ? Key : attacker) : null);
            var input = TokenFixture.Encode(header) + "." + TokenFixture.Encode(Payload());
            return input + "." + Base64Url.EncodeToString(attacker.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
        }

        public string PrivateJwk()
        {
            var p = Key.ExportParameters(includePrivateParameters: true);
            return $"{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\",\"d\":\"{Base64Url.EncodeToString(p.D)}\"}}";
        }

        public string NonCanonical()
        {
            // Pad the payload until its segment ends in a character with unused low bits, then set one of them: a
            // second spelling of the same bytes, which lenient decoders accept.
            for (var pad = 0; ; pad++)
            {
                var payload = Payload(extra: $",\"p\":\"{new string('a', pad)}\"");
                var segment = TokenFixture.Encode(payload);
                if (segment.Length % 4 is 2 or 3)
                {
                    const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                    var last = alphabet.IndexOf(segment[^1], StringComparison.Ordinal);
                    var forged = segment[..^1] + alphabet[last | 1];
                    var input = TokenFixture.Encode(Header()) + "." + forged;
                    return input + "." + Base64Url.EncodeToString(Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
                }
            }
        }

        public string Padded()
        {
            var header = Convert.ToBase64String(Encoding.UTF8.GetBytes(Header() + " ")).Replace('+', '-').Replace('/', '_');
            if (!header.EndsWith('='))
            {
                header = Convert.ToBase64String(Encoding.UTF8.GetBytes(Header() + "  ")).Replace('+', '-').Replace('/', '_');
            }

            var input = header + "." + TokenFixture.Encode(Payload());
            return input + "." + Base64Url.EncodeToString(Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
        }

        public string Segments(int count)
        {
            var parts = Signed(Header(), Payload()).Split('.').ToList();
            while (parts.Count < count)
            {
                parts.Add(parts[1]);
            }

            return string.Join('.', parts.Take(count));
        }

        public string WithSignature(byte[] signature)
        {
            var signed = Signed(Header(), Payload());
            return signed[..(signed.LastIndexOf('.') + 1)] + Base64Url.EncodeToString(signature);
        }

        public string Truncated()
        {
            var signed = Signed(Header(), Payload());
            return signed[..^4];
        }

        public string DerSignature()
        {
            var input = TokenFixture.Encode(Header()) + "." + TokenFixture.Encode(Payload());
            var der = Key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
            return input + "." + Base64Url.EncodeToString(der);
        }

        public virtual void Dispose() => Key.Dispose();

        protected static string PublicJwk(ECDsa key)
        {
            var p = key.ExportParameters(includePrivateParameters: false);
            return $"{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\"}}";
        }
    }

    private sealed class AccessTokenHarness : Harness
    {
        private readonly TokenFixture _fixture = new();

        public AccessTokenHarness()
            : base(JwsPolicies.AccessToken, "dpop+jwt")
        {
            // Sign with the ring's own active key: the validator trusts exactly that one.
            Key.ImportParameters(_fixture.ActivePrivateKey().ExportParameters(includePrivateParameters: true));
        }

        protected override string? KeyId => _fixture.ActiveKey.KeyId;

        public override Task<bool> AcceptsAsync(string jws) => Task.FromResult(_fixture.Validator.Validate(jws).IsValid);

        public override string Payload(string extra = "") => _fixture.Payload()[..^1] + extra + "}";

        public override void Dispose()
        {
            _fixture.Dispose();
            base.Dispose();
        }
    }

    private sealed class IdTokenHintHarness : Harness
    {
        private readonly TokenFixture _fixture = new();
        private readonly IdTokenHintReader _reader;

        public IdTokenHintHarness()
            : base(JwsPolicies.IdTokenHint, "at+jwt")
        {
            Key.ImportParameters(_fixture.ActivePrivateKey().ExportParameters(includePrivateParameters: true));
            _reader = new IdTokenHintReader(_fixture.Ring, Options.Create(_fixture.TokenOptions));
        }

        protected override string? KeyId => _fixture.ActiveKey.KeyId;

        public override Task<bool> AcceptsAsync(string jws) => Task.FromResult(_reader.Read(jws) is not null);

        public override string Payload(string extra = "") =>
            $"{{\"iss\":\"{TokenFixture.Issuer}\",\"sub\":\"usr_abc\",\"aud\":\"chart-app\",\"sid\":\"s-1\",\"iat\":{_fixture.Now},\"exp\":{_fixture.Now + 300}{extra}}}";

        public override void Dispose()
        {
            _fixture.Dispose();
            base.Dispose();
        }
    }

    private sealed class DpopHarness : Harness
    {
        private static readonly Uri Target = new("https://as.example.test/token");
        private readonly FakeTimeProvider _time;
        private readonly DpopNonces _nonces;
        private readonly DpopProofValidator _validator;

        public DpopHarness()
            : base(JwsPolicies.DpopProof, "at+jwt")
        {
            _time = new FakeTimeProvider(Now);
            _nonces = new DpopNonces(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(5), _time);
            _validator = new DpopProofValidator(new MemoryReplayCache(), _nonces, Options.Create(new DpopOptions { RequireNonce = false }), _time);
        }

        protected override bool EmbedsKey => true;

        public override async Task<bool> AcceptsAsync(string jws) =>
            (await _validator.ValidateAsync(jws, "POST", Target, null, CancellationToken.None)).Succeeded;

        public override string Payload(string extra = "") =>
            $"{{\"jti\":\"{Guid.NewGuid():N}\",\"htm\":\"POST\",\"htu\":\"{Target}\",\"iat\":{Now.ToUnixTimeSeconds()}{extra}}}";

        public override void Dispose()
        {
            _nonces.Dispose();
            base.Dispose();
        }
    }

    private sealed class ClientAssertionHarness : Harness
    {
        private const string Issuer = "https://auth.example.test";
        private readonly ClientAssertionValidator _validator;
        private readonly Client _client;

        public ClientAssertionHarness()
            : base(JwsPolicies.ClientAssertion, "at+jwt")
        {
            _validator = new ClientAssertionValidator(new MemoryReplayCache(), new FakeTimeProvider(Now), NullLogger<ClientAssertionValidator>.Instance);
            _client = new Client
            {
                ClientId = "lab-system",
                AuthenticationMethod = ClientAuthenticationMethods.PrivateKeyJwt,
                Jwks = $"{{\"keys\":[{PublicJwk(Key)[..^1]},\"kid\":\"k1\",\"use\":\"sig\",\"alg\":\"ES256\"}}]}}",
                CreatedAt = Now,
                UpdatedAt = Now,
            };
        }

        protected override string? KeyId => "k1";

        public override Task<bool> AcceptsAsync(string jws) => Task.FromResult(_validator.Validate(jws, _client, [Issuer]).IsValid);

        public override string Payload(string extra = "") =>
            $"{{\"iss\":\"lab-system\",\"sub\":\"lab-system\",\"aud\":\"{Issuer}\",\"exp\":{Now.AddMinutes(2).ToUnixTimeSeconds()},\"jti\":\"{Guid.NewGuid():N}\"{extra}}}";
    }

    private sealed class AuditHarness : Harness
    {
        private readonly AesGcmKeyProtector _protector = new(RandomNumberGenerator.GetBytes(32));
        private readonly AuditSigningKeys _keys;
        private readonly bool _manifest;

        public AuditHarness(JwsPolicy policy, bool manifest)
            : base(policy, manifest ? "safeguard-audit-checkpoint+jwt" : "safeguard-audit-archive+jwt")
        {
            _manifest = manifest;
            _keys = new AuditSigningKeys(new InMemorySigningKeyStore(), _protector, new FakeTimeProvider(Now));
            _keys.LoadAsync(createIfMissing: true, CancellationToken.None).GetAwaiter().GetResult();
            Key.ImportParameters(((ECDsaSecurityKey)_keys.Current!.SigningCredentials!.Key).ECDsa.ExportParameters(includePrivateParameters: true));
        }

        protected override string? KeyId => _keys.Current!.KeyId;

        public override Task<bool> AcceptsAsync(string jws)
        {
            if (_manifest)
            {
                var accepted = AuditCheckpoints.TryVerify(jws, Policy, _keys.Trusted, out var verified);
                verified.Dispose();
                return Task.FromResult(accepted);
            }

            return Task.FromResult(AuditCheckpoints.Verify(jws, _keys.Trusted) is not null);
        }

        public override string Payload(string extra = "") => _manifest
            ? $"{{\"files\":[{{\"file\":\"node-a.jsonl\",\"sha256\":\"00\",\"events\":1,\"last_seq\":1}}],\"iat\":{Now.ToUnixTimeSeconds()}{extra}}}"
            : $"{{\"chain\":\"node-a\",\"seq\":5,\"head\":\"{Base64Url.EncodeToString(new byte[32])}\",\"from\":1,\"root\":\"{Base64Url.EncodeToString(new byte[32])}\",\"iat\":{Now.ToUnixTimeSeconds()}{extra}}}";

        public override void Dispose()
        {
            _keys.Dispose();
            _protector.Dispose();
            base.Dispose();
        }
    }

    private sealed class MemoryReplayCache : IReplayCache
    {
        private readonly ConcurrentDictionary<string, DateTimeOffset> _entries = new(StringComparer.Ordinal);

        public ValueTask<bool> TryAddAsync(string purpose, string value, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
            ValueTask.FromResult(_entries.TryAdd(purpose + "|" + value, expiresAt));

        public Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken) => Task.FromResult(0);
    }
}
