namespace Safeguard;

/// <summary>
/// The stable catalogue of Safeguard error codes. Tests and operators match on the code, never on the wording.
/// A retired code is never reused. Ranges: <c>SG1xxx</c> token validation, <c>SG2xxx</c> issuance, <c>SG3xxx</c> the
/// authorization server's refusals (<c>SG30xx</c> client authentication, <c>SG31xx</c> DPoP, <c>SG32xx</c> requests,
/// <c>SG33xx</c> stores; sessions and MFA take <c>SG34xx</c> onward), <c>SG4xxx</c> gateway, <c>SG9xxx</c> audit.
/// docs/error-codes.md lists them all (a test keeps the two in step).
/// </summary>
public static class SafeguardErrorCodes
{
    /// <summary>Validation failed for a reason no step recorded; what an uninitialized result reports (fail closed).</summary>
    public const string TokenValidationFailed = "SG1000";

    /// <summary>No token was presented.</summary>
    public const string TokenMissing = "SG1001";

    /// <summary>The token is longer than the configured limit (8 KB by default); refused before parsing.</summary>
    public const string TokenTooLarge = "SG1002";

    /// <summary>The token is a JWE (five segments); encrypted tokens are not accepted as access tokens.</summary>
    public const string TokenEncrypted = "SG1003";

    /// <summary>The token is not a well-formed JWS: segment count, base64url, UTF-8 or JSON.</summary>
    public const string TokenMalformed = "SG1004";

    /// <summary>The header or the payload names the same member twice (RFC 8725 section 3.x, RFC 7519 section 4).</summary>
    public const string TokenDuplicateMember = "SG1005";

    /// <summary>A registered claim or header parameter has the wrong JSON type.</summary>
    public const string TokenClaimMalformed = "SG1006";

    /// <summary>The header's <c>alg</c> is missing or not on the allow-list (covers <c>none</c> and every HMAC algorithm).</summary>
    public const string TokenAlgorithmNotAllowed = "SG1010";

    /// <summary>The header carries <c>crit</c>; no critical extension is understood, so the token is refused (RFC 7515 section 4.1.11).</summary>
    public const string TokenCriticalHeader = "SG1011";

    /// <summary>The header embeds or points at key material (<c>jwk</c>, <c>jku</c>, <c>x5u</c>, <c>x5c</c>); it is never honoured.</summary>
    public const string TokenHeaderKeyReference = "SG1012";

    /// <summary>The header's <c>kid</c> is missing or not a well-formed key id.</summary>
    public const string TokenKeyIdMalformed = "SG1013";

    /// <summary>The header's <c>kid</c> names no trusted key.</summary>
    public const string TokenKeyUnknown = "SG1014";

    /// <summary>The header's <c>alg</c> is not the algorithm the key named by <c>kid</c> is bound to.</summary>
    public const string TokenAlgorithmKeyMismatch = "SG1015";

    /// <summary>The key named by <c>kid</c> has been revoked.</summary>
    public const string TokenKeyRevoked = "SG1016";

    /// <summary>The signature does not verify.</summary>
    public const string TokenSignatureInvalid = "SG1020";

    /// <summary>The header's <c>typ</c> is not <c>at+jwt</c> (RFC 9068 section 4): an ID token, a DPoP proof or an untyped JWT.</summary>
    public const string TokenTypeInvalid = "SG1030";

    /// <summary>A claim RFC 9068 requires (<c>iss</c>, <c>sub</c>, <c>aud</c>, <c>exp</c>, <c>iat</c>, <c>jti</c>, <c>client_id</c>) is missing.</summary>
    public const string TokenClaimMissing = "SG1031";

    /// <summary>The issuer is not the expected issuer (exact comparison).</summary>
    public const string TokenIssuerInvalid = "SG1032";

    /// <summary>The audience does not contain the expected audience.</summary>
    public const string TokenAudienceInvalid = "SG1033";

    /// <summary>The token expired (beyond the allowed clock skew).</summary>
    public const string TokenExpired = "SG1040";

    /// <summary>The token's <c>nbf</c> lies in the future beyond the allowed clock skew.</summary>
    public const string TokenNotYetValid = "SG1041";

    /// <summary>The token's <c>iat</c> lies in the future beyond the allowed clock skew.</summary>
    public const string TokenIssuedInFuture = "SG1042";

    /// <summary>The token's lifetime (<c>exp</c> - <c>iat</c>) exceeds the longest lifetime Safeguard issues.</summary>
    public const string TokenLifetimeTooLong = "SG1043";

    /// <summary>The token's <c>jti</c> has been revoked.</summary>
    public const string TokenRevoked = "SG1050";

    /// <summary>
    /// A resource could not follow the revocation feed for longer than its bound, and the token was issued before the
    /// outage began: it may have been revoked unseen, so it is refused (fail closed).
    /// </summary>
    public const string TokenRevocationUnknown = "SG1051";

    /// <summary>A claim is not on the access-token allow-list (no PHI in tokens).</summary>
    public const string IssuanceClaimNotAllowed = "SG2001";

    /// <summary>The issuance request lacks a required value or carries an invalid one.</summary>
    public const string IssuanceRequestInvalid = "SG2002";

    /// <summary>The requested token lifetime exceeds the configured lifetime.</summary>
    public const string IssuanceLifetimeNotAllowed = "SG2003";

    /// <summary>No active signing key is available; nothing is signed.</summary>
    public const string IssuanceNoSigningKey = "SG2004";

    /// <summary>An additional claim's value is not a string, number, boolean or array of strings.</summary>
    public const string IssuanceClaimValueNotAllowed = "SG2005";

    /// <summary>The request names no client credentials at all.</summary>
    public const string ClientAuthenticationMissing = "SG3001";

    /// <summary>No client is registered under the presented id.</summary>
    public const string ClientUnknown = "SG3002";

    /// <summary>The client is disabled.</summary>
    public const string ClientDisabled = "SG3003";

    /// <summary>The client secret does not match.</summary>
    public const string ClientSecretInvalid = "SG3004";

    /// <summary>The client assertion (RFC 7523) is malformed, badly signed, expired, too long-lived, or for another audience.</summary>
    public const string ClientAssertionInvalid = "SG3005";

    /// <summary>The client assertion's <c>jti</c> was used before.</summary>
    public const string ClientAssertionReplayed = "SG3006";

    /// <summary>No client certificate was presented, or it is not the one registered (RFC 8705).</summary>
    public const string ClientCertificateInvalid = "SG3007";

    /// <summary>The client used a method it is not registered for, or more than one method in one request.</summary>
    public const string ClientAuthenticationMethodNotAllowed = "SG3008";

    /// <summary>The DPoP proof is missing where one is required.</summary>
    public const string DpopProofMissing = "SG3101";

    /// <summary>The DPoP proof is malformed, oversized, or sent more than once.</summary>
    public const string DpopProofMalformed = "SG3102";

    /// <summary>The DPoP proof's <c>typ</c> is not <c>dpop+jwt</c>.</summary>
    public const string DpopTypeInvalid = "SG3103";

    /// <summary>The DPoP proof's <c>alg</c> is not an allowed asymmetric algorithm.</summary>
    public const string DpopAlgorithmNotAllowed = "SG3104";

    /// <summary>The DPoP proof's <c>jwk</c> is missing, unsupported, too weak, or carries private key material.</summary>
    public const string DpopKeyInvalid = "SG3105";

    /// <summary>The DPoP proof's signature does not verify with its <c>jwk</c>.</summary>
    public const string DpopSignatureInvalid = "SG3106";

    /// <summary>The DPoP proof's <c>htm</c> or <c>htu</c> is not this request's method and URL.</summary>
    public const string DpopTargetMismatch = "SG3107";

    /// <summary>The DPoP proof's <c>iat</c> is outside the accepted window.</summary>
    public const string DpopIssuedAtInvalid = "SG3108";

    /// <summary>The DPoP proof lacks the server nonce, or its nonce is stale (the client retries with the new one).</summary>
    public const string DpopNonceInvalid = "SG3109";

    /// <summary>The DPoP proof's <c>jti</c> was used before.</summary>
    public const string DpopReplayed = "SG3110";

    /// <summary>The DPoP proof's <c>ath</c> is missing or is not the hash of the access token presented with it.</summary>
    public const string DpopAccessTokenHashInvalid = "SG3111";

    /// <summary>The request body or form is malformed: wrong content type, a repeated parameter, too large, or not UTF-8.</summary>
    public const string RequestMalformed = "SG3201";

    /// <summary>The grant type is missing or not implemented.</summary>
    public const string GrantTypeUnsupported = "SG3202";

    /// <summary>The client may not use this grant type.</summary>
    public const string GrantTypeNotAllowed = "SG3203";

    /// <summary>A requested scope is not among the client's allowed scopes.</summary>
    public const string ScopeNotAllowed = "SG3204";

    /// <summary>A requested resource (RFC 8707) is not among the client's allowed resources, or is not an absolute URI.</summary>
    public const string ResourceNotAllowed = "SG3205";

    /// <summary>The client must use DPoP and sent no proof.</summary>
    public const string DpopRequired = "SG3206";

    /// <summary>The caller may not introspect tokens.</summary>
    public const string IntrospectionNotAllowed = "SG3207";

    /// <summary>A request other than GET or HEAD came over the plain-http listener: it is refused, never redirected, so a client that sent a credential in clear learns it failed.</summary>
    public const string PlainHttpRefused = "SG3208";

    /// <summary>The source address, or the node as a whole, is over its rate limit: 429 with Retry-After, before the request is read.</summary>
    public const string RateLimited = "SG3209";

    /// <summary>An authorization request names an unknown or disabled client, one not registered for the code flow, or a redirect URI that is not one of its own: shown on an error page, never redirected.</summary>
    public const string AuthorizationRequestInvalid = "SG3210";

    /// <summary>An authorization request asks for a response type other than <c>code</c>.</summary>
    public const string ResponseTypeUnsupported = "SG3211";

    /// <summary>An authorization request has no PKCE challenge, or one that is not S256.</summary>
    public const string PkceRequired = "SG3212";

    /// <summary>An authorization code is unknown, expired, for another client or redirect URI.</summary>
    public const string AuthorizationCodeInvalid = "SG3213";

    /// <summary>An authorization code was presented a second time: the tokens issued for it are revoked.</summary>
    public const string AuthorizationCodeReplayed = "SG3214";

    /// <summary>The PKCE code verifier does not match the code's challenge.</summary>
    public const string PkceVerifierInvalid = "SG3215";

    /// <summary>The session behind a code ended, or its user can no longer sign in, before the code was redeemed.</summary>
    public const string SessionNotActive = "SG3216";

    /// <summary>An authorization request uses <c>request</c> or <c>request_uri</c>, which this server does not accept yet.</summary>
    public const string RequestObjectUnsupported = "SG3217";

    /// <summary><c>prompt=none</c> and no live session (OIDC <c>login_required</c>).</summary>
    public const string LoginRequired = "SG3218";

    /// <summary>A refresh token is unknown, expired, revoked or another client's.</summary>
    public const string RefreshTokenInvalid = "SG3219";

    /// <summary>A refresh token was used a second time: its whole family is revoked.</summary>
    public const string RefreshTokenReused = "SG3220";

    /// <summary>A DPoP-bound refresh token came without a proof of its key.</summary>
    public const string RefreshTokenDpopMismatch = "SG3221";

    /// <summary>Resource: the token lacks a scope the endpoint requires.</summary>
    public const string ResourceScopeMissing = "SG3501";

    /// <summary>Resource: the token carries none of the roles the endpoint requires.</summary>
    public const string ResourceRoleMissing = "SG3502";

    /// <summary>Resource: the sign-in behind the token was not at the authentication level the endpoint requires (acr; RFC 9470 step-up).</summary>
    public const string ResourceAcrInsufficient = "SG3503";

    /// <summary>Resource: the sign-in behind the token is older than the endpoint allows (auth_time; RFC 9470 step-up).</summary>
    public const string ResourceAuthenticationTooOld = "SG3504";

    /// <summary>Resource: the patient-compartment policy refused the patient the request names (or it named none where one is required).</summary>
    public const string ResourcePatientNotAllowed = "SG3505";

    /// <summary>Resource: the request was refused by a policy requirement other than Safeguard's.</summary>
    public const string ResourcePolicyRefused = "SG3506";

    /// <summary>Resource: a certificate-bound token (cnf x5t#S256) came without that client certificate.</summary>
    public const string ResourceCertificateMismatch = "SG3507";

    /// <summary>Resource: a DPoP-bound token was sent as a Bearer token.</summary>
    public const string ResourceDpopBoundAsBearer = "SG3508";

    /// <summary>The store (database) could not be reached: the request is refused with 503.</summary>
    public const string StoreUnavailable = "SG3301";

    /// <summary>Sign-in refused: no user has that username (the user sees the same answer as for a wrong password).</summary>
    public const string SignInUnknownUser = "SG3401";

    /// <summary>Sign-in refused: the password is wrong.</summary>
    public const string SignInWrongPassword = "SG3402";

    /// <summary>Sign-in refused: the user is disabled (the user sees the generic answer).</summary>
    public const string SignInUserDisabled = "SG3403";

    /// <summary>Sign-in refused: the user is locked after too many failed sign-ins; an administrator unlocks it.</summary>
    public const string SignInUserLocked = "SG3404";

    /// <summary>Sign-in refused without checking the password: the account's back-off after repeated failures is in force, or the source has failed too often.</summary>
    public const string SignInThrottled = "SG3405";

    /// <summary>Sign-in refused: every password-hashing slot stayed busy (the user is asked to try again shortly).</summary>
    public const string SignInBusy = "SG3406";

    /// <summary>Sign-in refused: the user has no password yet (enrolment pending).</summary>
    public const string SignInNoPassword = "SG3407";

    /// <summary>A second-factor code was wrong or malformed.</summary>
    public const string MfaInvalid = "SG3411";

    /// <summary>A second-factor code was right but already used (TOTP step or recovery code spent).</summary>
    public const string MfaReplayed = "SG3412";

    /// <summary>The second factor reached 100 consecutive failures and is refused until reset.</summary>
    public const string MfaDisabled = "SG3413";

    /// <summary>The user has no second factor of the kind presented.</summary>
    public const string MfaNotEnrolled = "SG3414";

    /// <summary>A passkey sign-in was refused (unknown credential, wrong origin or challenge, no user verification, bad signature, counter, user handle).</summary>
    public const string PasskeyRefused = "SG3415";

    /// <summary>A passkey registration was refused (expired ceremony, malformed or unverifiable attestation, a credential already registered).</summary>
    public const string PasskeyRegistrationRefused = "SG3416";

    /// <summary>The audit queue is full: the event was not accepted (a PHI request is then refused, 503).</summary>
    public const string AuditQueueFull = "SG9001";

    /// <summary>The audit store could not be written: the event is not durable (a PHI request is then refused, 503).</summary>
    public const string AuditStoreUnavailable = "SG9002";

    /// <summary>The audit writer is not running.</summary>
    public const string AuditWriterStopped = "SG9003";
}
