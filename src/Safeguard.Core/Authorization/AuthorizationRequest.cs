namespace Safeguard.Authorization;

/// <summary>
/// An authorization request (RFC 6749 section 4.1.1 with PKCE) that passed its checks and waits for the user to sign
/// in. Kept server-side under a random id the sign-in pages carry; it expires in 10 minutes.
/// </summary>
public sealed record AuthorizationRequest
{
    /// <summary>A random id (128 bits, base64url).</summary>
    public required string Id { get; init; }

    /// <summary>The client.</summary>
    public required string ClientId { get; init; }

    /// <summary>The redirect URI, one of the client's, exactly.</summary>
    public required string RedirectUri { get; init; }

    /// <summary>The scopes asked for (within the client's; <c>openid</c> for an ID token).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The resource indicators asked for (RFC 8707).</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>The client's <c>state</c>, returned as is.</summary>
    public string? State { get; init; }

    /// <summary>The OIDC <c>nonce</c>, put in the ID token.</summary>
    public string? Nonce { get; init; }

    /// <summary>The PKCE S256 code challenge (RFC 7636).</summary>
    public required string CodeChallenge { get; init; }

    /// <summary>Whether the user must sign in again (<c>prompt=login</c>, or <c>max_age</c> exceeded).</summary>
    public bool ForceLogin { get; init; }

    /// <summary>Whether the client asked the user to confirm what it is given (<c>prompt=consent</c>).</summary>
    public bool ConsentRequested { get; init; }

    /// <summary>Whether the client asked for no interaction (<c>prompt=none</c>): without a live session the answer is <c>login_required</c>.</summary>
    public bool NoPrompt { get; init; }

    /// <summary>The OIDC <c>max_age</c> in seconds, if given.</summary>
    public long? MaxAge { get; init; }

    /// <summary>
    /// Whether this is a pushed request (RFC 9126) waiting for its <c>request_uri</c> at <c>/authorize</c>: usable there
    /// once, and only as a request_uri, never as a sign-in page's request.
    /// </summary>
    public bool Pushed { get; init; }

    /// <summary>The <c>acr</c> the client asked for with <c>acr_values</c> (RFC 9470 step-up), when it is one Safeguard asserts.</summary>
    public string? RequiredAcr { get; init; }

    /// <summary>When it was made.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it stops being usable.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>
/// An authorization code (RFC 6749 section 4.1.2): stored only as the SHA-256 of the code, single-use, short-lived
/// (60 s), bound to the client, the redirect URI, the PKCE challenge and the session.
/// </summary>
public sealed record AuthorizationCode
{
    /// <summary>SHA-256 of the code, base64url: the key.</summary>
    public required string CodeHash { get; init; }

    /// <summary>The client it was issued to.</summary>
    public required string ClientId { get; init; }

    /// <summary>The user.</summary>
    public required string Subject { get; init; }

    /// <summary>The session (<c>sid</c>).</summary>
    public required string SessionId { get; init; }

    /// <summary>The redirect URI of the request, which the token request must repeat.</summary>
    public required string RedirectUri { get; init; }

    /// <summary>The PKCE S256 challenge.</summary>
    public required string CodeChallenge { get; init; }

    /// <summary>The scopes granted.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = [];

    /// <summary>The resources (audiences) granted.</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>The OIDC nonce.</summary>
    public string? Nonce { get; init; }

    /// <summary>When the user authenticated.</summary>
    public required DateTimeOffset AuthenticatedAt { get; init; }

    /// <summary>The methods used (<c>amr</c>).</summary>
    public IReadOnlyList<string> Amr { get; init; } = [];

    /// <summary>The context class (<c>acr</c>).</summary>
    public string? Acr { get; init; }

    /// <summary>When it was issued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it expires.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it was redeemed, if it was.</summary>
    public DateTimeOffset? RedeemedAt { get; init; }

    /// <summary>The ids (<c>jti</c>) of the access tokens issued for it, revoked if the code is replayed.</summary>
    public IReadOnlyList<string> IssuedTokenIds { get; init; } = [];
}

/// <summary>Where pending authorization requests and codes are kept (shared by every node).</summary>
public interface IAuthorizationStore
{
    /// <summary>Keeps a pending request.</summary>
    Task AddRequestAsync(AuthorizationRequest request, CancellationToken cancellationToken);

    /// <summary>A pending request by id, or null (expired ones included; the caller checks).</summary>
    Task<AuthorizationRequest?> FindRequestAsync(string id, CancellationToken cancellationToken);

    /// <summary>Removes a pending request once a code was issued for it (so it cannot make a second).</summary>
    /// <returns>True if this call removed it.</returns>
    Task<bool> RemoveRequestAsync(string id, CancellationToken cancellationToken);

    /// <summary>Stores a new code.</summary>
    Task AddCodeAsync(AuthorizationCode code, CancellationToken cancellationToken);

    /// <summary>
    /// Redeems a code in one statement: the first call marks it redeemed and gets it with <c>FirstUse</c> true; any
    /// later call gets it with <c>FirstUse</c> false (a replay). Null if no such code.
    /// </summary>
    Task<(AuthorizationCode Code, bool FirstUse)?> RedeemCodeAsync(string codeHash, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Records the id of a token issued for a code (so a replay can revoke it).</summary>
    Task RecordIssuedTokenAsync(string codeHash, string tokenId, CancellationToken cancellationToken);

    /// <summary>Deletes requests and codes that expired before <paramref name="before"/>.</summary>
    /// <returns>How many rows were deleted.</returns>
    Task<int> PurgeExpiredAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
