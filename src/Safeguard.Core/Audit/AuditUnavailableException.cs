namespace Safeguard.Audit;

/// <summary>
/// An audit event could not be made durable. Callers that need durability (a PHI access) fail closed on it:
/// the gateway answers 503. <see cref="ErrorCode"/> is <c>SG9001</c> (queue full), <c>SG9002</c> (store
/// unavailable) or <c>SG9003</c> (writer stopped).
/// </summary>
public sealed class AuditUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AuditUnavailableException()
        : this(SafeguardErrorCodes.AuditStoreUnavailable, "The audit trail is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public AuditUnavailableException(string message)
        : this(SafeguardErrorCodes.AuditStoreUnavailable, message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public AuditUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = SafeguardErrorCodes.AuditStoreUnavailable;
    }

    /// <summary>Creates the exception with its code.</summary>
    /// <param name="errorCode">An SG9xxx code.</param>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause, if any.</param>
    public AuditUnavailableException(string errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The SG9xxx code.</summary>
    public string ErrorCode { get; }
}
