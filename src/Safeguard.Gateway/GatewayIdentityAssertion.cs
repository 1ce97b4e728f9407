using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Gateway;

/// <summary>
/// The verified identity as a short-lived signed assertion for upstreams (<c>Gateway:IdentityAssertion</c>): an ES256
/// JWT of type <c>safeguard-identity+jwt</c>, issued by the gateway's audience, for the cluster (<c>aud</c>), carrying
/// <c>sub</c>, <c>client_id</c>, <c>scope</c>, <c>roles</c>, <c>sid</c>, <c>acr</c>, <c>amr</c> and the access token's
/// <c>jti</c> as <c>token_jti</c>, valid 60 seconds. The key is made when the gateway starts and never leaves its
/// memory; upstreams read it from <c>/.safeguard/jwks</c> (a restart rotates it). An assertion is made once per token
/// and cluster and reused while it has 20 seconds left.
/// </summary>
internal sealed class GatewayIdentityAssertion : IDisposable
{
    public const string TokenType = "safeguard-identity+jwt";
    public const string JwksPath = "/.safeguard/jwks";
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReuseWhileLeft = TimeSpan.FromSeconds(20);

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly SigningCredentials _credentials;
    private readonly string _issuer;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly ConditionalWeakTable<ValidatedAccessToken, Dictionary<string, (string Jwt, DateTimeOffset Expires)>> _made = new();

    public GatewayIdentityAssertion(string issuer, TimeProvider time)
    {
        _issuer = issuer;
        _time = time;
        var p = _key.ExportParameters(false);
        var kid = KeyIds.EcThumbprint("P-256", p.Q.X, p.Q.Y);
        _credentials = new SigningCredentials(new ECDsaSecurityKey(_key) { KeyId = kid }, SecurityAlgorithms.EcdsaSha256);
        Jwks = JsonSerializer.Serialize(new { keys = new[] { new { kty = "EC", crv = "P-256", x = Base64Url.EncodeToString(p.Q.X), y = Base64Url.EncodeToString(p.Q.Y), kid, alg = "ES256", use = "sig" } } });
    }

    /// <summary>The public key as a JWKS document.</summary>
    public string Jwks { get; }

    /// <summary>The assertion of <paramref name="token"/> for <paramref name="cluster"/>.</summary>
    public string For(ValidatedAccessToken token, string cluster)
    {
        var now = _time.GetUtcNow();
        var made = _made.GetValue(token, _ => new Dictionary<string, (string, DateTimeOffset)>(StringComparer.Ordinal));
        lock (made)
        {
            if (made.TryGetValue(cluster, out var known) && known.Expires - now > ReuseWhileLeft)
            {
                return known.Jwt;
            }
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expires = issuedAt + Lifetime;
        if (token.ExpiresAt is { } tokenExpires && tokenExpires < expires)
        {
            expires = tokenExpires; // never outlives the token it stands for
        }

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["jti"] = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
        };
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                claims[name] = value;
            }
        }

        Add("sub", token.Subject);
        Add("client_id", token.ClientId);
        Add("scope", token.Scopes.Count > 0 ? string.Join(' ', token.Scopes) : null);
        Add("roles", token.Roles.Count > 0 ? token.Roles.ToArray() : null);
        Add("sid", token.SessionId);
        Add("acr", token.AuthenticationContextClass);
        Add("amr", token.AuthenticationMethods.Count > 0 ? token.AuthenticationMethods.ToArray() : null);
        Add("token_jti", token.TokenId);
        var jwt = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _issuer,
            Audience = cluster,
            IssuedAt = issuedAt.UtcDateTime,
            NotBefore = issuedAt.UtcDateTime,
            Expires = expires.UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = _credentials,
            Claims = claims,
        });
        lock (made)
        {
            made[cluster] = (jwt, expires);
        }

        return jwt;
    }

    public void Dispose() => _key.Dispose();
}
