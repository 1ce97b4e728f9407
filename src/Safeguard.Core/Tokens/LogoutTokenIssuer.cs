using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>
/// Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): signed by the key ring, typed
/// <c>logout+jwt</c> (so one can pass for neither an ID token nor an access token), for one client (<c>aud</c>), with
/// <c>sub</c>, <c>sid</c>, a <c>jti</c>, the back-channel logout event and no <c>nonce</c>; valid two minutes.
/// </summary>
public sealed class LogoutTokenIssuer
{
    /// <summary>The logout token's <c>typ</c>.</summary>
    public const string TokenType = "logout+jwt";

    /// <summary>The event a logout token carries.</summary>
    public const string BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>How long a logout token is valid.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    private readonly SigningKeyRing _keys;
    private readonly AccessTokenOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Creates the issuer.</summary>
    public LogoutTokenIssuer(SigningKeyRing keys, IOptions<AccessTokenOptions> options, TimeProvider time)
    {
        _keys = keys ?? throw new ArgumentNullException(nameof(keys));
        _options = OptionsGuard.Validated(new AccessTokenOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Signs a logout token, or returns null when no key is active.</summary>
    /// <param name="clientId">The client told (<c>aud</c>).</param>
    /// <param name="subject">The user.</param>
    /// <param name="sessionId">The session that ended.</param>
    /// <returns>The token, or null.</returns>
    public string? Issue(string clientId, string subject, string sessionId)
    {
        var key = _keys.GetSigningKey();
        if (key?.SigningCredentials is null)
        {
            return null;
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = clientId,
            IssuedAt = issuedAt.UtcDateTime,
            Expires = (issuedAt + Lifetime).UtcDateTime,
            TokenType = TokenType,
            SigningCredentials = key.SigningCredentials,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["sub"] = subject,
                ["sid"] = sessionId,
                ["jti"] = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
                ["events"] = new Dictionary<string, object>(StringComparer.Ordinal) { [BackchannelLogoutEvent] = new Dictionary<string, object>() },
            },
        });
    }
}
