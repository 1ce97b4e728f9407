using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Safeguard.Dpop;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Clients;

/// <summary>
/// The outcome of checking a client assertion. <c>default</c> is a failure with <see cref="SafeguardErrorCodes.ClientAssertionInvalid"/>.
/// </summary>
public readonly record struct ClientAssertionResult
{
    private readonly string? _errorCode;

    private ClientAssertionResult(string? tokenId, DateTimeOffset expiresAt, string? errorCode, string? description)
    {
        TokenId = tokenId;
        ExpiresAt = expiresAt;
        _errorCode = errorCode;
        Description = description;
    }

    /// <summary>True only when every check passed.</summary>
    [MemberNotNullWhen(true, nameof(TokenId))]
    [MemberNotNullWhen(false, nameof(ErrorCode))]
    public bool IsValid => TokenId is not null && _errorCode is null;

    /// <summary>The assertion's <c>jti</c>; null unless valid.</summary>
    public string? TokenId { get; }

    /// <summary>The assertion's <c>exp</c>.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>The <c>SG3xxx</c> code of the first failed check; null when valid.</summary>
    public string? ErrorCode => IsValid ? null : _errorCode ?? SafeguardErrorCodes.ClientAssertionInvalid;

    /// <summary>What failed, for the client's <c>error_description</c> and the audit trail.</summary>
    public string? Description { get; }

    internal static ClientAssertionResult Success(string tokenId, DateTimeOffset expiresAt) => new(tokenId, expiresAt, null, null);

    internal static ClientAssertionResult Failure(string code, string description) => new(null, default, code, description);
}

/// <summary>
/// Checks RFC 7523 client assertions (<c>private_key_jwt</c>) under <see cref="JwsPolicies.ClientAssertion"/>: a key of
/// the client's registered JWKS (by <c>kid</c> when given), <c>iss</c> = <c>sub</c> = the client id, <c>aud</c> exactly
/// one of the given audiences (the issuer identifier, as draft-ietf-oauth-rfc7523bis requires), <c>exp</c> in the
/// future and at most <see cref="MaxLifetime"/> ahead, <c>nbf</c> not in the future, a <c>jti</c>; then
/// <see cref="ConsumeAsync"/> accepts the <c>jti</c> once across every node.
/// </summary>
public sealed partial class ClientAssertionValidator
{
    /// <summary>RFC 7523 section 2.2: the <c>client_assertion_type</c>.</summary>
    public const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// <summary>The longest an assertion may live (<c>exp</c> - now).</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(5);

    private const string ReplayPurpose = "client_assertion";
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    private readonly IReplayCache _replay;
    private readonly TimeProvider _time;
    private readonly ILogger<ClientAssertionValidator> _logger;

    // Keys parsed once per client version. A replaced set is not disposed: a request may still be verifying with it,
    // and the handles are freed with the objects.
    private readonly ConcurrentDictionary<string, (DateTimeOffset Version, IReadOnlyList<JwkPublicKey> Keys)> _keys = new(StringComparer.Ordinal);

    /// <summary>Creates the validator.</summary>
    /// <param name="replay">The cluster-wide replay cache.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The operational log (never the assertion).</param>
    public ClientAssertionValidator(IReplayCache replay, TimeProvider timeProvider, ILogger<ClientAssertionValidator> logger)
    {
        ArgumentNullException.ThrowIfNull(replay);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _replay = replay;
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// The client an assertion claims to come from (its <c>iss</c>), read under the policy but before any signature, so
    /// that client's keys can be looked up. Nothing else is believed until <see cref="Validate"/> passes.
    /// </summary>
    /// <param name="assertion">The assertion.</param>
    /// <returns>A well-formed client id, or null.</returns>
    public static string? ReadClaimedClientId(string? assertion)
    {
        if (JwsReader.Read<JsonPayload>(assertion, JwsPolicies.ClientAssertion, out _, out var payload, out _) != JwsError.None)
        {
            return null;
        }

        using (payload)
        {
            return StrictJson.GetString(payload.Root, "iss") is { } issuer && ClientIds.IsWellFormed(issuer) ? issuer : null;
        }
    }

    /// <summary>Checks everything but replay; touches no store.</summary>
    /// <param name="assertion">The assertion.</param>
    /// <param name="client">The client it names, registered for <c>private_key_jwt</c>.</param>
    /// <param name="audiences">The <c>aud</c> values accepted.</param>
    /// <returns>The assertion's id and expiry, or why it fails.</returns>
    public ClientAssertionResult Validate(string? assertion, Client client, IReadOnlyList<string> audiences)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(audiences);
        var error = JwsVerifier.Verify(assertion, JwsPolicies.ClientAssertion, KeysOf(client), out var verified);
        if (error != JwsError.None)
        {
            LogRejected(client.ClientId, error);
            // The same words as for an unknown client: before the signature holds, nothing may tell which clients exist.
            return Invalid(FailedDescription);
        }

        using (verified)
        {
            var claims = verified.Payload.Root;
            if (StrictJson.GetString(claims, "iss") != client.ClientId || StrictJson.GetString(claims, "sub") != client.ClientId)
            {
                return Invalid("The client assertion needs iss and sub equal to the client id.");
            }

            if (!AudienceIsOneOf(claims, audiences))
            {
                return Invalid("The client assertion's aud must be exactly this server's issuer.");
            }

            var now = _time.GetUtcNow();
            if (!TryGetTime(claims, "exp", out var expiresAt) || expiresAt <= now - Skew || expiresAt > now + MaxLifetime + Skew)
            {
                return Invalid($"The client assertion's exp must be in the future and at most {MaxLifetime.TotalMinutes:0} minutes ahead.");
            }

            if (claims.TryGetProperty("nbf", out _) && (!TryGetTime(claims, "nbf", out var notBefore) || notBefore > now + Skew))
            {
                return Invalid("The client assertion's nbf is in the future.");
            }

            if (StrictJson.GetString(claims, "jti") is not { Length: > 0 and <= 256 } tokenId)
            {
                return Invalid("The client assertion needs a jti.");
            }

            return ClientAssertionResult.Success(tokenId, expiresAt);
        }
    }

    /// <summary>
    /// Checks an assertion that names no <c>private_key_jwt</c> client against keys nobody holds (one per algorithm), so
    /// refusing it costs what refusing a real client's bad signature costs and the time taken does not tell which ids
    /// exist. It never succeeds.
    /// </summary>
    /// <param name="assertion">The assertion.</param>
    public static void CheckAgainstDecoys(string? assertion)
    {
        if (JwsVerifier.Verify(assertion, JwsPolicies.ClientAssertion, DecoyKeys, out var verified) == JwsError.None)
        {
            verified.Dispose();
        }
    }

    /// <summary>Records a valid assertion's <c>jti</c> in the shared replay cache; a second use fails.</summary>
    /// <param name="client">The client.</param>
    /// <param name="result">What <see cref="Validate"/> returned.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The result, or <see cref="SafeguardErrorCodes.ClientAssertionReplayed"/>.</returns>
    public async ValueTask<ClientAssertionResult> ConsumeAsync(Client client, ClientAssertionResult result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!result.IsValid)
        {
            return result;
        }

        var fresh = await _replay.TryAddAsync(ReplayPurpose, client.ClientId + ":" + result.TokenId, result.ExpiresAt + Skew + SafeguardLimits.ReplayRetentionMargin, cancellationToken).ConfigureAwait(false);
        return fresh ? result : ClientAssertionResult.Failure(SafeguardErrorCodes.ClientAssertionReplayed, "The client assertion was used before.");
    }

    private static readonly IReadOnlyList<JwkPublicKey> DecoyKeys = CreateDecoyKeys();

    /// <summary>What a caller is told when an assertion's signature does not hold, as when its client is unknown.</summary>
    public const string FailedDescription = "Client authentication failed.";

    private static ClientAssertionResult Invalid(string description) => ClientAssertionResult.Failure(SafeguardErrorCodes.ClientAssertionInvalid, description);

    private static bool AudienceIsOneOf(JsonElement claims, IReadOnlyList<string> audiences)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        var value = aud.ValueKind switch
        {
            JsonValueKind.String => aud.GetString(),
            JsonValueKind.Array when aud.GetArrayLength() == 1 && aud[0].ValueKind == JsonValueKind.String => aud[0].GetString(),
            _ => null,
        };
        return value is not null && audiences.Contains(value, StringComparer.Ordinal);
    }

    private static bool TryGetTime(JsonElement claims, string name, out DateTimeOffset value)
    {
        value = default;
        if (!claims.TryGetProperty(name, out var member) || member.ValueKind != JsonValueKind.Number || !member.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds is < 0 or > 32503680000d)
        {
            return false;
        }

        value = DateTimeOffset.FromUnixTimeSeconds((long)seconds);
        return true;
    }

    private IReadOnlyList<JwkPublicKey> KeysOf(Client client)
    {
        if (_keys.TryGetValue(client.ClientId, out var cached) && cached.Version == client.UpdatedAt)
        {
            return cached.Keys;
        }

        var keys = ClientJwks.Read(client.Jwks, out _);
        _keys[client.ClientId] = (client.UpdatedAt, keys);
        return keys;
    }

    private static JwkPublicKey[] CreateDecoyKeys()
    {
        // The private halves are discarded at once: nothing can sign for these keys.
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        var rsaPublic = rsa.ExportSubjectPublicKeyInfo();
        return
        [
            JwkPublicKey.FromSubjectPublicKeyInfo("ES256", p256.ExportSubjectPublicKeyInfo()),
            JwkPublicKey.FromSubjectPublicKeyInfo("ES384", p384.ExportSubjectPublicKeyInfo()),
            JwkPublicKey.FromSubjectPublicKeyInfo("PS256", rsaPublic),
            JwkPublicKey.FromSubjectPublicKeyInfo("RS256", rsaPublic),
        ];
    }

    [LoggerMessage(EventId = LogEvents.ClientAssertionRejected, Level = LogLevel.Information, Message = "Client assertion from {ClientId} rejected: {Reason}.")]
    private partial void LogRejected(string clientId, JwsError reason);
}
