namespace Safeguard.Clients;

/// <summary>The shape every client id has, checked before any lookup.</summary>
public static class ClientIds
{
    /// <summary>The longest client id.</summary>
    public const int MaxLength = 64;

    /// <summary>Whether <paramref name="clientId"/> is 1 to 64 characters of <c>[A-Za-z0-9._-]</c>.</summary>
    /// <param name="clientId">A presented or proposed client id.</param>
    /// <returns>True if well-formed.</returns>
    public static bool IsWellFormed(ReadOnlySpan<char> clientId)
    {
        if (clientId.IsEmpty || clientId.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in clientId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
