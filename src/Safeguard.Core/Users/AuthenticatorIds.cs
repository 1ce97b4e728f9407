using System.Buffers.Text;
using System.Security.Cryptography;

namespace Safeguard.Users;

/// <summary>Authenticator ids: 128 random bits, base64url.</summary>
internal static class AuthenticatorIds
{
    public static string New() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
}
