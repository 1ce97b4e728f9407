using System.Diagnostics.CodeAnalysis;

namespace Safeguard.Tokens;

/// <summary>
/// The outcome of issuing an access token. <c>default</c> is a failure (fail closed): only a token that was
/// actually signed makes <see cref="Succeeded"/> true.
/// </summary>
public readonly record struct AccessTokenIssueResult
{
    private readonly string? _errorCode;

    private AccessTokenIssueResult(string? token, string? tokenId, string? keyId, DateTimeOffset expiresAt, string? errorCode, string? errorDescription)
    {
        Token = token;
        TokenId = tokenId;
        KeyId = keyId;
        ExpiresAt = expiresAt;
        _errorCode = errorCode;
        ErrorDescription = errorDescription;
    }

    /// <summary>True only for a token that was issued.</summary>
    [MemberNotNullWhen(true, nameof(Token))]
    [MemberNotNullWhen(false, nameof(ErrorCode))]
    public bool Succeeded => Token is not null && _errorCode is null;

    /// <summary>The compact JWS; null on failure. Never log it.</summary>
    public string? Token { get; }

    /// <summary>The token's <c>jti</c>: what logs and the audit trail record instead of the token.</summary>
    public string? TokenId { get; }

    /// <summary>The id of the key that signed it.</summary>
    public string? KeyId { get; }

    /// <summary>When the token expires.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>An <c>SG2xxx</c> code on failure (<see cref="SafeguardErrorCodes.IssuanceRequestInvalid"/> for an uninitialized result); null on success.</summary>
    public string? ErrorCode => Succeeded ? null : _errorCode ?? SafeguardErrorCodes.IssuanceRequestInvalid;

    /// <summary>Why issuance failed, for the operator and the audit trail (not for the client).</summary>
    public string? ErrorDescription { get; }

    internal static AccessTokenIssueResult Success(string token, string tokenId, string keyId, DateTimeOffset expiresAt) =>
        new(token, tokenId, keyId, expiresAt, null, null);

    internal static AccessTokenIssueResult Failure(string code, string description) =>
        new(null, null, null, default, code, description);
}
