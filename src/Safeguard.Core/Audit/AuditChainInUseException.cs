namespace Safeguard.Audit;

/// <summary>
/// Another writer holds the audit chain this one was configured to append to: a second node with the same chain id
/// on one shared database, or a second server on one data folder. Two writers on one chain would fork it, so the
/// second refuses to start; each node needs its own <c>Safeguard:Audit:ChainId</c> (the default is unique per data folder).
/// </summary>
public sealed class AuditChainInUseException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AuditChainInUseException()
        : this("The audit chain is being written by another process.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public AuditChainInUseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public AuditChainInUseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The message for <paramref name="chain"/>: which chain, what to set, and the cause this node most likely has.</summary>
    /// <param name="chain">The chain.</param>
    /// <returns>The exception.</returns>
    public static AuditChainInUseException For(string chain) => new(
        $"The audit chain '{chain}' is already being written by another process: another node configured with the same " +
        $"Safeguard:Audit:ChainId on this database, or another server on this data folder. Two writers would fork the chain, " +
        $"so this one does not start. Give each node its own Safeguard:Audit:ChainId, or leave it unset (the default is " +
        $"unique per data folder) and give each node its own data folder.");
}
