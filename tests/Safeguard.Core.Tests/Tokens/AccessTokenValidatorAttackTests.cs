using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Tests.Tokens;

/// <summary>
/// REQUIREMENTS.md "JWT attack regression", the rows that apply to the token layer: each forged or broken token
/// is rejected with its own code. A row's name says the attack; the second column the code it must get.
/// </summary>
public sealed class AccessTokenValidatorAttackTests
{
    // The order of the P-256 group: r or s equal to or above it is invalid (CVE-2022-21449 checked both bounds).
    private static readonly byte[] P256Order = Convert.FromHexString("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");

    public static TheoryData<string, string> Attacks => new()
    {
        { "alg none, no signature (CVE-2015-2951)", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "alg None", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "alg NONE", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "alg none with the real signature kept (CVE-2022-23540)", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "alg missing", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "alg es256 in lower case", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "HS256 signed with the public key (CVE-2016-10555)", SafeguardErrorCodes.TokenAlgorithmNotAllowed },
        { "RS256 header naming an ES256 key", SafeguardErrorCodes.TokenAlgorithmKeyMismatch },
        { "ES384 header naming an ES256 key", SafeguardErrorCodes.TokenAlgorithmKeyMismatch },
        { "ES256 with r=s=0 (CVE-2022-21449)", SafeguardErrorCodes.TokenSignatureInvalid },
        { "ES256 with r equal to the group order", SafeguardErrorCodes.TokenSignatureInvalid },
        { "ES256 with s equal to the group order", SafeguardErrorCodes.TokenSignatureInvalid },
        { "ES256 with s above the group order", SafeguardErrorCodes.TokenSignatureInvalid },
        { "ES256 signature in DER instead of r||s", SafeguardErrorCodes.TokenSignatureInvalid },
        { "signature stripped (CVE-2020-28042)", SafeguardErrorCodes.TokenSignatureInvalid },
        { "payload altered after signing", SafeguardErrorCodes.TokenSignatureInvalid },
        { "signed by another key under our kid", SafeguardErrorCodes.TokenSignatureInvalid },
        { "embedded jwk with the attacker's key (CVE-2018-0114)", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "jku pointing at a JWKS elsewhere", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "x5u pointing at a certificate elsewhere", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "x5c carrying the attacker's certificate", SafeguardErrorCodes.TokenHeaderKeyReference },
        { "kid traversal ../../dev/null", SafeguardErrorCodes.TokenKeyIdMalformed },
        { "kid SQL injection ' OR 1=1--", SafeguardErrorCodes.TokenKeyIdMalformed },
        { "kid missing", SafeguardErrorCodes.TokenKeyIdMalformed },
        { "kid of an attacker's key", SafeguardErrorCodes.TokenKeyUnknown },
        { "iss missing", SafeguardErrorCodes.TokenClaimMissing },
        { "sub missing", SafeguardErrorCodes.TokenClaimMissing },
        { "aud missing", SafeguardErrorCodes.TokenClaimMissing },
        { "exp missing", SafeguardErrorCodes.TokenClaimMissing },
        { "iat missing", SafeguardErrorCodes.TokenClaimMissing },
        { "jti missing", SafeguardErrorCodes.TokenClaimMissing },
        { "client_id missing", SafeguardErrorCodes.TokenClaimMissing },
        { "typ JWT", SafeguardErrorCodes.TokenTypeInvalid },
        { "typ missing", SafeguardErrorCodes.TokenTypeInvalid },
        { "an ID token presented as an access token", SafeguardErrorCodes.TokenTypeInvalid },
        { "a DPoP proof presented as an access token", SafeguardErrorCodes.TokenTypeInvalid },
        { "crit header", SafeguardErrorCodes.TokenCriticalHeader },
        { "duplicate claim sub", SafeguardErrorCodes.TokenDuplicateMember },
        { "duplicate claim hidden by a JSON escape", SafeguardErrorCodes.TokenDuplicateMember },
        { "duplicate header alg", SafeguardErrorCodes.TokenDuplicateMember },
        { "duplicate member inside cnf", SafeguardErrorCodes.TokenDuplicateMember },
        { "a 1 MB token", SafeguardErrorCodes.TokenTooLarge },
        { "one character over 8 KB", SafeguardErrorCodes.TokenTooLarge },
        { "empty token", SafeguardErrorCodes.TokenMissing },
        { "invalid base64url characters", SafeguardErrorCodes.TokenMalformed },
        { "base64 padding", SafeguardErrorCodes.TokenMalformed },
        { "two segments", SafeguardErrorCodes.TokenMalformed },
        { "four segments", SafeguardErrorCodes.TokenMalformed },
        { "payload not UTF-8", SafeguardErrorCodes.TokenMalformed },
        { "payload a JSON array", SafeguardErrorCodes.TokenMalformed },
        { "payload with trailing data", SafeguardErrorCodes.TokenMalformed },
        { "a JWE (five segments, CVE-2024-21319)", SafeguardErrorCodes.TokenEncrypted },
        { "zip header on a JWS", SafeguardErrorCodes.TokenEncrypted },
        { "exp a string", SafeguardErrorCodes.TokenClaimMalformed },
        { "aud a number", SafeguardErrorCodes.TokenClaimMalformed },
        { "expired by skew + 1 s", SafeguardErrorCodes.TokenExpired },
        { "nbf in the future beyond skew", SafeguardErrorCodes.TokenNotYetValid },
        { "iat in the future beyond skew", SafeguardErrorCodes.TokenIssuedInFuture },
        { "lifetime of a day", SafeguardErrorCodes.TokenLifetimeTooLong },
        { "issuer with a trailing slash", SafeguardErrorCodes.TokenIssuerInvalid },
        { "issuer of another server", SafeguardErrorCodes.TokenIssuerInvalid },
        { "audience of another API (audience confusion)", SafeguardErrorCodes.TokenAudienceInvalid },
        { "token id revoked", SafeguardErrorCodes.TokenRevoked },
        { "lone surrogate in a header member name", SafeguardErrorCodes.TokenMalformed },
        { "lone surrogate in a claim value", SafeguardErrorCodes.TokenMalformed },
        { "exp in the year 9999", SafeguardErrorCodes.TokenClaimMalformed },
        { "non-canonical base64url spelling of the signature", SafeguardErrorCodes.TokenMalformed },
        { "a non-ASCII character in the token", SafeguardErrorCodes.TokenMalformed },
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Validate_RejectsAttack(string attack, string expectedCode)
    {
        using var fixture = new TokenFixture();
        var token = Build(attack, fixture);

        var result = fixture.Validator.Validate(token);

        Assert.False(result.IsValid);
        Assert.Null(result.Token);
        Assert.Equal(expectedCode, result.ErrorCode);
        Assert.Equal(0, fixture.Validator.CachedTokenCount);
    }

    [Fact]
    public void Validate_AcceptsTheWellFormedTokenTheAttacksStartFrom()
    {
        // The attack rows alter one thing each; the unaltered token must pass, or the rows prove nothing.
        using var fixture = new TokenFixture();
        var token = fixture.Sign(fixture.Header(), fixture.Payload());

        var result = fixture.Validator.Validate(token);

        Assert.True(result.IsValid, result.ErrorCode);
    }

    [Fact]
    public void Validate_NeverContactsJkuOrX5uLocations()
    {
        using var fixture = new TokenFixture();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/jwks.json";
        var headers = new[] { $",\"jku\":\"{url}\"", $",\"x5u\":\"{url}\"" };

        foreach (var extra in headers)
        {
            var result = fixture.Validator.Validate(fixture.Sign(fixture.Header(extra: extra), fixture.Payload()));
            Assert.Equal(SafeguardErrorCodes.TokenHeaderKeyReference, result.ErrorCode);
        }

        Thread.Sleep(200);
        Assert.False(listener.Pending(), "The validator opened a connection to a URL taken from a token header.");
    }

    private static string Build(string attack, TokenFixture f)
    {
        var now = f.Now;
        var skew = (long)f.ValidationOptions.ClockSkew.TotalSeconds;
        switch (attack)
        {
            case "alg none, no signature (CVE-2015-2951)":
                return TokenFixture.Encode(f.Header(alg: "none")) + "." + TokenFixture.Encode(f.Payload()) + ".";
            case "alg None":
                return TokenFixture.Encode(f.Header(alg: "None")) + "." + TokenFixture.Encode(f.Payload()) + ".";
            case "alg NONE":
                return TokenFixture.Encode(f.Header(alg: "NONE")) + "." + TokenFixture.Encode(f.Payload()) + ".";
            case "alg none with the real signature kept (CVE-2022-23540)":
            {
                var payload = f.Payload();
                var real = f.Sign(f.Header(), payload);
                return TokenFixture.Encode(f.Header(alg: "none")) + "." + TokenFixture.Encode(payload) + "." + real.Split('.')[2];
            }

            case "alg missing":
                return f.Sign($"{{\"typ\":\"at+jwt\",\"kid\":\"{f.ActiveKey.KeyId}\"}}", f.Payload());
            case "alg es256 in lower case":
                return f.Sign(f.Header(alg: "es256"), f.Payload());
            case "HS256 signed with the public key (CVE-2016-10555)":
            {
                var input = TokenFixture.Encode(f.Header(alg: "HS256")) + "." + TokenFixture.Encode(f.Payload());
                var publicKey = f.ActivePrivateKey().ExportSubjectPublicKeyInfo();
                var mac = HMACSHA256.HashData(publicKey, Encoding.ASCII.GetBytes(input));
                return input + "." + Base64Url.EncodeToString(mac);
            }

            case "RS256 header naming an ES256 key":
                return f.Sign(f.Header(alg: "RS256"), f.Payload());
            case "ES384 header naming an ES256 key":
                return f.Sign(f.Header(alg: "ES384"), f.Payload());
            case "ES256 with r=s=0 (CVE-2022-21449)":
                return WithSignature(f.Sign(f.Header(), f.Payload()), new byte[64]);
            case "ES256 with r equal to the group order":
                return ReplaceSignatureHalf(f.Sign(f.Header(), f.Payload()), first: true, P256Order);
            case "ES256 with s equal to the group order":
                return ReplaceSignatureHalf(f.Sign(f.Header(), f.Payload()), first: false, P256Order);
            case "ES256 with s above the group order":
            {
                var above = (byte[])P256Order.Clone();
                above[^1]++;
                return ReplaceSignatureHalf(f.Sign(f.Header(), f.Payload()), first: false, above);
            }

            case "ES256 signature in DER instead of r||s":
            {
                var input = TokenFixture.Encode(f.Header()) + "." + TokenFixture.Encode(f.Payload());
                var der = f.ActivePrivateKey().SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
                return input + "." + Base64Url.EncodeToString(der);
            }

            case "signature stripped (CVE-2020-28042)":
            {
                var token = f.Sign(f.Header(), f.Payload());
                return token[..(token.LastIndexOf('.') + 1)];
            }

            case "payload altered after signing":
            {
                var parts = f.Sign(f.Header(), f.Payload()).Split('.');
                return parts[0] + "." + TokenFixture.Encode(f.Payload(c => c["sub"] = "admin")) + "." + parts[2];
            }

            case "signed by another key under our kid":
            {
                using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                return TokenFixture.SignWith(other, f.Header(), f.Payload());
            }

            case "embedded jwk with the attacker's key (CVE-2018-0114)":
            {
                using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var p = attacker.ExportParameters(false);
                var kid = KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y);
                var jwk = $",\"jwk\":{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{Base64Url.EncodeToString(p.Q.X)}\",\"y\":\"{Base64Url.EncodeToString(p.Q.Y)}\"}}";
                return TokenFixture.SignWith(attacker, f.Header(kid: kid, extra: jwk), f.Payload());
            }

            case "jku pointing at a JWKS elsewhere":
                return f.Sign(f.Header(extra: ",\"jku\":\"https://attacker.invalid/jwks.json\""), f.Payload());
            case "x5u pointing at a certificate elsewhere":
                return f.Sign(f.Header(extra: ",\"x5u\":\"https://attacker.invalid/cert.pem\""), f.Payload());
            case "x5c carrying the attacker's certificate":
                return f.Sign(f.Header(extra: ",\"x5c\":[\"MIIBszCCAVmgAwIBAgIU\"]"), f.Payload());
            case "kid traversal ../../dev/null":
                return f.Sign(f.Header(kid: "../../dev/null"), f.Payload());
            case "kid SQL injection ' OR 1=1--":
                return f.Sign(f.Header(kid: "' OR 1=1--"), f.Payload());
            case "kid missing":
                return f.Sign("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", f.Payload());
            case "kid of an attacker's key":
            {
                using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var p = attacker.ExportParameters(false);
                return TokenFixture.SignWith(attacker, f.Header(kid: KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y)), f.Payload());
            }

            case "iss missing":
            case "sub missing":
            case "aud missing":
            case "exp missing":
            case "iat missing":
            case "jti missing":
            case "client_id missing":
            {
                var claim = attack[..attack.IndexOf(' ', StringComparison.Ordinal)];
                return f.Sign(f.Header(), f.Payload(c => c.Remove(claim)));
            }

            case "typ JWT":
                return f.Sign(f.Header(typ: "JWT"), f.Payload());
            case "typ missing":
                return f.Sign($"{{\"alg\":\"ES256\",\"kid\":\"{f.ActiveKey.KeyId}\"}}", f.Payload());
            case "an ID token presented as an access token":
                return f.Sign(f.Header(typ: "JWT"), f.Payload(c =>
                {
                    c["aud"] = "billing";
                    c["nonce"] = "n-0S6_WzA2Mj";
                    c["auth_time"] = now - 10;
                }));
            case "a DPoP proof presented as an access token":
                return f.Sign(f.Header(typ: "dpop+jwt"), f.Payload(c =>
                {
                    c["htm"] = "GET";
                    c["htu"] = "https://api.example.test/patients";
                }));
            case "crit header":
                return f.Sign(f.Header(extra: ",\"crit\":[\"exp\"]"), f.Payload());
            case "duplicate claim sub":
                return f.Sign(f.Header(), f.Payload().Replace("\"sub\":\"user-7f3a\"", "\"sub\":\"user-7f3a\",\"sub\":\"admin\"", StringComparison.Ordinal));
            case "duplicate claim hidden by a JSON escape":
                return f.Sign(f.Header(), f.Payload().Replace("\"sub\":\"user-7f3a\"", "\"sub\":\"user-7f3a\",\"\\u0073ub\":\"admin\"", StringComparison.Ordinal));
            case "duplicate header alg":
                return f.Sign(f.Header(extra: ",\"alg\":\"ES256\""), f.Payload());
            case "duplicate member inside cnf":
                return f.Sign(f.Header(), f.Payload()[..^1] + ",\"cnf\":{\"jkt\":\"abc\",\"jkt\":\"def\"}}");
            case "a 1 MB token":
                return f.Sign(f.Header(), f.Payload(c => c["pad"] = new string('A', 1024 * 1024)));
            case "one character over 8 KB":
            {
                var token = f.Sign(f.Header(), f.Payload());
                return token + new string('A', AccessTokenValidationOptions.MaximumTokenSize + 1 - token.Length);
            }

            case "empty token":
                return string.Empty;
            case "invalid base64url characters":
            {
                var token = f.Sign(f.Header(), f.Payload());
                return token[..5] + "+/" + token[7..];
            }

            case "base64 padding":
            {
                var parts = f.Sign(f.Header(), f.Payload()).Split('.');
                return parts[0] + "==." + parts[1] + "." + parts[2];
            }

            case "two segments":
            {
                var token = f.Sign(f.Header(), f.Payload());
                return token[..token.LastIndexOf('.')];
            }

            case "four segments":
                return f.Sign(f.Header(), f.Payload()) + ".AAAA";
            case "payload not UTF-8":
            {
                var bytes = Encoding.UTF8.GetBytes(f.Payload()).ToList();
                bytes.InsertRange(bytes.IndexOf((byte)'u') , new byte[] { 0xC3, 0x28 });
                var input = TokenFixture.Encode(f.Header()) + "." + Base64Url.EncodeToString(bytes.ToArray());
                var sig = f.ActivePrivateKey().SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256);
                return input + "." + Base64Url.EncodeToString(sig);
            }

            case "payload a JSON array":
                return f.Sign(f.Header(), "[" + f.Payload() + "]");
            case "payload with trailing data":
                return f.Sign(f.Header(), f.Payload() + "{}");
            case "a JWE (five segments, CVE-2024-21319)":
                return TokenFixture.Encode("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}") + ".AAAA.AAAA.AAAA.AAAA";
            case "zip header on a JWS":
                return f.Sign(f.Header(extra: ",\"zip\":\"DEF\""), f.Payload());
            case "exp a string":
                return f.Sign(f.Header(), f.Payload(c => c["exp"] = (now + 300).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            case "aud a number":
                return f.Sign(f.Header(), f.Payload(c => c["aud"] = 42));
            case "expired by skew + 1 s":
                return f.Sign(f.Header(), f.Payload(c =>
                {
                    c["iat"] = now - 300 - skew - 1;
                    c["exp"] = now - skew - 1;
                }));
            case "nbf in the future beyond skew":
                return f.Sign(f.Header(), f.Payload(c => c["nbf"] = now + skew + 1));
            case "iat in the future beyond skew":
                return f.Sign(f.Header(), f.Payload(c =>
                {
                    c["iat"] = now + skew + 1;
                    c["exp"] = now + skew + 301;
                }));
            case "lifetime of a day":
                return f.Sign(f.Header(), f.Payload(c => c["exp"] = now + 86_400));
            case "issuer with a trailing slash":
                return f.Sign(f.Header(), f.Payload(c => c["iss"] = TokenFixture.Issuer + "/"));
            case "issuer of another server":
                return f.Sign(f.Header(), f.Payload(c => c["iss"] = "https://evil.example.test"));
            case "audience of another API (audience confusion)":
                return f.Sign(f.Header(), f.Payload(c => c["aud"] = new[] { "https://other-api.example.test" }));
            case "token id revoked":
                f.Revocations.Revoke("revoked-jti", f.Time.GetUtcNow().AddHours(1));
                return f.Sign(f.Header(), f.Payload(c => c["jti"] = "revoked-jti"));
            case "lone surrogate in a header member name":
                return f.Sign(f.Header(extra: ",\"\\ud800\":1"), f.Payload());
            case "lone surrogate in a claim value":
                return f.Sign(f.Header(), f.Payload()[..^1] + ",\"note\":\"\\udc00\"}");
            case "exp in the year 9999":
                return f.Sign(f.Header(), f.Payload(c => c["exp"] = 253402300799L));
            case "non-canonical base64url spelling of the signature":
            {
                var token = f.Sign(f.Header(), f.Payload());
                const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                var last = alphabet.IndexOf(token[^1], StringComparison.Ordinal);
                return token[..^1] + alphabet[last | 1];
            }

            case "a non-ASCII character in the token":
            {
                var token = f.Sign(f.Header(), f.Payload());
                return token[..10] + "\u00e9" + token[11..];
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(attack), attack, "No builder for this attack row.");
        }
    }

    private static string WithSignature(string token, byte[] signature) =>
        token[..(token.LastIndexOf('.') + 1)] + Base64Url.EncodeToString(signature);

    private static string ReplaceSignatureHalf(string token, bool first, byte[] value)
    {
        var signature = Base64Url.DecodeFromChars(token.AsSpan(token.LastIndexOf('.') + 1));
        value.CopyTo(signature, first ? 0 : 32);
        return WithSignature(token, signature);
    }
}
