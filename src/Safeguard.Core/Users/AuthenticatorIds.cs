using System.Buffers.Text;
using System.Security.Cryptography;

namespace Safeguard.Users;

/// <summary>Authenticator ids: 128 random bits, base64url.</summary>
public static class AuthenticatorIds
{
    /// <summary>A new id.</summary>
    /// <returns>The id.</returns>
    public static string New() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
}
