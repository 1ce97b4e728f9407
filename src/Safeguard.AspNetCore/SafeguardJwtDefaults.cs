namespace Safeguard.AspNetCore;

/// <summary>Default values of the Safeguard JWT authentication scheme.</summary>
public static class SafeguardJwtDefaults
{
    /// <summary>The default scheme name, <c>SafeguardJwt</c>.</summary>
    public const string AuthenticationScheme = "SafeguardJwt";

    /// <summary>The discovery document's path under the authority (RFC 8414).</summary>
    public const string DiscoveryPath = "/.well-known/oauth-authorization-server";
}
