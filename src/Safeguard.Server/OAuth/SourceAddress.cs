using System.Net;

namespace Safeguard.Server.OAuth;

/// <summary>How a caller's address is keyed for rate limits and sign-in throttling.</summary>
internal static class SourceAddress
{
    /// <summary>The partition of a source address: the address itself for IPv4, its /64 for IPv6.</summary>
    public static string Of(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
