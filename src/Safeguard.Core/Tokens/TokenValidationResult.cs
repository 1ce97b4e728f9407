using System.Diagnostics.CodeAnalysis;

namespace Safeguard.Tokens;

/// <summary>
/// The outcome of validating an access token. <c>default</c> is a failure with <see cref="SafeguardErrorCodes.TokenValidationFailed"/>:
/// a result nobody filled in never lets a request through.
/// </summary>
public readonly record struct TokenValidationResult
{
    private readonly string? _errorCode;

    private TokenValidationResult(ValidatedAccessToken? token, string? errorCode, bool fromCache, string? tokenId, string? subject)
    {
        Token = token;
        _errorCode = errorCode;
        FromCache = fromCache;
        TokenId = tokenId;
        Subject = subject;
    }

    /// <summary>True only when every check passed.</summary>
    [MemberNotNullWhen(true, nameof(Token))]
    [MemberNotNullWhen(false, nameof(ErrorCode))]
    public bool IsValid => Token is not null && _errorCode is null;

    /// <summary>The validated claims; null unless <see cref="IsValid"/>.</summary>
    public ValidatedAccessToken? Token { get; }

    /// <summary>The <c>SG1xxx</c> code of the first failed check; null when valid.</summary>
    public string? ErrorCode => IsValid ? null : _errorCode ?? SafeguardErrorCodes.TokenValidationFailed;

    /// <summary>True when the signature check was skipped because this exact token was verified before.</summary>
    public bool FromCache { get; }

    /// <summary>The token's <c>jti</c>, for the audit trail; set once the signature verified (also on later failures), never from an unverified token.</summary>
    public string? TokenId { get; }

    /// <summary>The token's <c>sub</c>, for the audit trail; set once the signature verified, never from an unverified token.</summary>
    public string? Subject { get; }

    internal static TokenValidationResult Success(ValidatedAccessToken token, bool fromCache) =>
        new(token, null, fromCache, token.TokenId, token.Subject);

    internal static TokenValidationResult Failure(string code) => new(null, code, false, null, null);

    internal static TokenValidationResult FailureAfterSignature(string code, ValidatedAccessToken verified) =>
        new(null, code, false, verified.TokenId, verified.Subject);
}
