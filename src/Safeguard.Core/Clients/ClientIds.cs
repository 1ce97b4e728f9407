namespace Safeguard.Clients;

/// <summary>The shape every client id has, checked before any lookup.</summary>
public static class ClientIds
{
    /// <summary>The longest client id.</summary>
    public const int MaxLength = 64;

    /// <summary>The prefix of user subject identifiers, which no client id may start with.</summary>
    public const string UserSubjectPrefix = "usr_";

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

    /// <summary>
    /// Whether <paramref name="clientId"/> starts with the prefix of user subjects (in any case), so cannot be
    /// registered: a client's <c>sub</c> must never equal a user's.
    /// </summary>
    /// <param name="clientId">A proposed client id.</param>
    /// <returns>True if reserved.</returns>
    public static bool IsReservedForUsers(ReadOnlySpan<char> clientId) => clientId.StartsWith(UserSubjectPrefix, StringComparison.OrdinalIgnoreCase);
}
