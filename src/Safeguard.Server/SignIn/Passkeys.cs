using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fido2NetLib;
using Fido2NetLib.Objects;
using Fido2NetLib.Serialization;
using Safeguard.Dpop;
using Safeguard.Keys;
using Safeguard.Server.OAuth;
using Safeguard.Users;

namespace Safeguard.Server.SignIn;

/// <summary>
/// Passkeys (WebAuthn through Fido2): registration by a signed-in user, and sign-in, either on its own with a
/// discoverable credential (no username typed) or as the second step after a password. The relying party is the
/// issuer's host and the only origin the issuer's; user verification is required, so a passkey sign-in is
/// multi-factor (AAL2). Each ceremony's options travel in the page with a sealed state (AES-GCM under a KEK, 5
/// minutes), and its challenge is accepted once across nodes (the replay cache), so no ceremony is held in memory.
/// The WebAuthn user handle is the opaque subject, never a name. Nothing is fetched at run time (no metadata service).
/// </summary>
internal sealed class Passkeys
{
    private const int MaxResponseLength = 64 * 1024;
    private const string ReplayPurpose = "webauthn";
    private static readonly TimeSpan CeremonyLifetime = TimeSpan.FromMinutes(5);
    private static readonly byte[] StateContext = "safeguard webauthn ceremony v1"u8.ToArray();

    private readonly Fido2? _fido2;
    private readonly IAuthenticatorStore _store;
    private readonly IKeyProtector _protector;
    private readonly IReplayCache _replay;
    private readonly TimeProvider _time;

    public Passkeys(IAuthenticatorStore store, IKeyProtector protector, IReplayCache replay, ServerEndpoints endpoints, TimeProvider time)
    {
        _store = store;
        _protector = protector;
        _replay = replay;
        _time = time;
        var issuer = new Uri(endpoints.Issuer);
        // WebAuthn relying-party ids are host names: a server reached by an IP address offers no passkeys.
        if (issuer.HostNameType == UriHostNameType.Dns)
        {
            _fido2 = new Fido2(new Fido2Configuration
            {
                RPID = issuer.Host,
                RPName = "Safeguard",
                Origins = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { issuer.GetLeftPart(UriPartial.Authority) },
                BackupEligibleCredentialPolicy = Fido2Configuration.CredentialBackupPolicy.Allowed,
                BackedUpCredentialPolicy = Fido2Configuration.CredentialBackupPolicy.Allowed,
            });
        }
    }

    /// <summary>Whether passkeys can be offered (the issuer is a host name, not an IP address).</summary>
    public bool Available => _fido2 is not null;

    /// <summary>The methods (RFC 8176) a passkey sign-in proves: the key (hardware, or software when it syncs) and, with user verification, a second factor (the PIN or biometric that unlocked it).</summary>
    public static string[] MethodsOf(Authenticator passkey) => [passkey?.BackupEligible == true ? "swk" : "hwk", Sessions.AuthenticationContext.MultiFactor];

    /// <summary>Starts registering a passkey for <paramref name="user"/> (its existing passkeys excluded).</summary>
    public async Task<PasskeyCeremony?> BeginRegistrationAsync(User user, CancellationToken cancellationToken)
    {
        if (_fido2 is null)
        {
            return null;
        }

        var existing = (await _store.GetForUserAsync(user.Subject, cancellationToken).ConfigureAwait(false)).Where(a => a.Kind == AuthenticatorKind.Passkey).ToList();
        var options = _fido2.RequestNewCredential(new RequestNewCredentialParams
        {
            User = new Fido2User { Id = Encoding.UTF8.GetBytes(user.Subject), Name = user.Username, DisplayName = user.Username },
            ExcludeCredentials = [.. existing.Select(Descriptor)],
            AuthenticatorSelection = new AuthenticatorSelection
            {
                ResidentKey = ResidentKeyRequirement.Required,
                UserVerification = UserVerificationRequirement.Required,
            },
            AttestationPreference = AttestationConveyancePreference.None,
        });
        var json = options.ToJson();
        return new PasskeyCeremony(json, Seal(new CeremonyState("create", user.Subject, json, _time.GetUtcNow())));
    }

    /// <summary>Finishes a registration: the new passkey (not yet stored), or the reason it was refused.</summary>
    public async Task<PasskeyResult> FinishRegistrationAsync(User user, string? state, string? response, CancellationToken cancellationToken)
    {
        if (_fido2 is null || Unseal(state) is not { Kind: "create" } ceremony || ceremony.Subject != user.Subject)
        {
            return PasskeyResult.Refused("the registration ceremony is unknown, expired or for another user");
        }

        var options = CredentialCreateOptions.FromJson(ceremony.Options);
        if (Parse(response, json => JsonSerializer.Deserialize<AuthenticatorAttestationRawResponse>(json)) is not { } attestation)
        {
            return PasskeyResult.Refused("the browser's response is malformed");
        }

        if (!await SpendAsync(options.Challenge, ceremony, cancellationToken).ConfigureAwait(false))
        {
            return PasskeyResult.Refused("the registration challenge was already used");
        }

        try
        {
            var credential = await _fido2.MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = attestation,
                OriginalOptions = options,
                IsCredentialIdUniqueToUserCallback = async (args, token) => await _store.FindByCredentialIdAsync(args.CredentialId, token).ConfigureAwait(false) is null,
            }, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            return PasskeyResult.Accepted(new Authenticator
            {
                Id = AuthenticatorIds.New(),
                Subject = user.Subject,
                Kind = AuthenticatorKind.Passkey,
                Name = $"Passkey added {now.UtcDateTime:yyyy-MM-dd}",
                CredentialId = credential.Id,
                PublicKey = credential.PublicKey,
                Counter = credential.SignCount,
                Aaguid = credential.AaGuid,
                BackupEligible = credential.IsBackupEligible,
                BackedUp = credential.IsBackedUp,
                Transports = credential.Transports is { Length: > 0 } transports ? string.Join(' ', transports.Select(TransportName)) : null,
                CreatedAt = now,
            });
        }
        catch (Fido2VerificationException ex)
        {
            return PasskeyResult.Refused($"registration refused: {ex.Code}");
        }
    }

    /// <summary>
    /// Starts a sign-in. With <paramref name="allowed"/> null, any passkey of this site (discoverable, no username);
    /// otherwise only those (the second step after a password).
    /// </summary>
    public PasskeyCeremony? BeginSignIn(IReadOnlyList<Authenticator>? allowed)
    {
        if (_fido2 is null)
        {
            return null;
        }

        var options = _fido2.GetAssertionOptions(new GetAssertionOptionsParams
        {
            AllowedCredentials = allowed is null ? [] : [.. allowed.Where(a => a.Kind == AuthenticatorKind.Passkey).Select(Descriptor)],
            UserVerification = UserVerificationRequirement.Required,
        });
        var json = options.ToJson();
        return new PasskeyCeremony(json, Seal(new CeremonyState("get", null, json, _time.GetUtcNow())));
    }

    /// <summary>
    /// Finishes a sign-in: checks the assertion against the stored passkey (origin, rpId, challenge once, user
    /// presence and verification, signature, counter, the user handle), and records the use.
    /// </summary>
    /// <param name="state">The sealed ceremony state from the page.</param>
    /// <param name="response">The browser's credential as JSON.</param>
    /// <param name="expectedSubject">The user who passed the password step, or null for a sign-in with the passkey alone.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    public async Task<PasskeyResult> FinishSignInAsync(string? state, string? response, string? expectedSubject, CancellationToken cancellationToken)
    {
        if (_fido2 is null || Unseal(state) is not { Kind: "get" } ceremony)
        {
            return PasskeyResult.Refused("the sign-in ceremony is unknown or expired");
        }

        var options = AssertionOptions.FromJson(ceremony.Options);
        if (Parse(response, json => JsonSerializer.Deserialize(json, FidoModelSerializerContext.Default.AuthenticatorAssertionRawResponse)) is not { } assertion)
        {
            return PasskeyResult.Refused("the browser's response is malformed");
        }

        var passkey = await _store.FindByCredentialIdAsync(assertion.RawId, cancellationToken).ConfigureAwait(false);
        if (passkey is not { Kind: AuthenticatorKind.Passkey, PublicKey: not null })
        {
            return PasskeyResult.Refused("no such passkey is registered");
        }

        if (expectedSubject is not null && passkey.Subject != expectedSubject)
        {
            return PasskeyResult.Refused("the passkey belongs to another user", passkey);
        }

        if (expectedSubject is null && assertion.Response.UserHandle is null)
        {
            return PasskeyResult.Refused("a sign-in without a username needs the user handle", passkey);
        }

        if (passkey.Failures >= MfaVerification.MaxConsecutiveFailures)
        {
            return PasskeyResult.Refused("the passkey is disabled after too many failures", passkey);
        }

        if (!await SpendAsync(options.Challenge, ceremony, cancellationToken).ConfigureAwait(false))
        {
            return PasskeyResult.Refused("the sign-in challenge was already used", passkey);
        }

        VerifyAssertionResult verified;
        try
        {
            verified = await _fido2.MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = assertion,
                OriginalOptions = options,
                StoredPublicKey = passkey.PublicKey,
                StoredSignatureCounter = (uint)passkey.Counter,
                IsUserHandleOwnerOfCredentialIdCallback = (args, _) => Task.FromResult(CryptographicOperations.FixedTimeEquals(args.UserHandle, Encoding.UTF8.GetBytes(passkey.Subject))),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Fido2VerificationException ex)
        {
            // Not counted against the passkey: a signature cannot be guessed, so counting would only let anyone who
            // knows a credential id (the second step lists them) lock its owner out.
            return PasskeyResult.Refused($"assertion refused: {ex.Code}", passkey);
        }

        if (!await _store.TryUsePasskeyAsync(passkey.Id, verified.SignCount, verified.IsBackedUp, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return PasskeyResult.Refused("the signature counter did not rise (a cloned authenticator?)", passkey);
        }

        return PasskeyResult.Accepted(passkey with { Counter = verified.SignCount, BackedUp = verified.IsBackedUp });
    }

    private async Task<bool> SpendAsync(byte[] challenge, CeremonyState ceremony, CancellationToken cancellationToken) =>
        await _replay.TryAddAsync(ReplayPurpose, Base64Url.EncodeToString(challenge), ceremony.IssuedAt + CeremonyLifetime + SafeguardLimits.ReplayRetentionMargin, cancellationToken).ConfigureAwait(false);

    private static T? Parse<T>(string? response, Func<string, T?> parse)
        where T : class
    {
        if (response is not { Length: > 0 and <= MaxResponseLength })
        {
            return null;
        }

        try
        {
            return parse(response);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    private static PublicKeyCredentialDescriptor Descriptor(Authenticator passkey) =>
        new(PublicKeyCredentialType.PublicKey, passkey.CredentialId!, passkey.Transports is { Length: > 0 } t ? [.. t.Split(' ').Select(ParseTransport).OfType<AuthenticatorTransport>()] : null);

    private static string TransportName(AuthenticatorTransport transport) => JsonSerializer.Serialize(transport).Trim('"');

    private static AuthenticatorTransport? ParseTransport(string name)
    {
        try
        {
            return JsonSerializer.Deserialize<AuthenticatorTransport>("\"" + name + "\"");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private string Seal(CeremonyState state) =>
        Base64Url.EncodeToString(_protector.Protect(JsonSerializer.SerializeToUtf8Bytes(state, PasskeyJsonContext.Default.CeremonyState), StateContext));

    private CeremonyState? Unseal(string? state)
    {
        if (state is not { Length: > 0 and < 16 * 1024 })
        {
            return null;
        }

        try
        {
            var ceremony = JsonSerializer.Deserialize(_protector.Unprotect(Base64Url.DecodeFromChars(state), StateContext), PasskeyJsonContext.Default.CeremonyState);
            return ceremony is not null && _time.GetUtcNow() < ceremony.IssuedAt + CeremonyLifetime ? ceremony : null;
        }
        catch (Exception ex) when (ex is FormatException or KeyProtectionException or JsonException)
        {
            return null;
        }
    }
}

/// <summary>A ceremony for the page: the options the browser is given (JSON) and the sealed state it posts back.</summary>
internal sealed record PasskeyCeremony(string OptionsJson, string State);

/// <summary>What a ceremony came to: the passkey (new, or the one used), or why it was refused (for the audit trail only).</summary>
internal sealed record PasskeyResult(bool Succeeded, Authenticator? Passkey, string? Reason)
{
    public static PasskeyResult Accepted(Authenticator passkey) => new(true, passkey, null);

    public static PasskeyResult Refused(string reason, Authenticator? passkey = null) => new(false, passkey, reason);
}

/// <summary>A ceremony's state, sealed into the page.</summary>
internal sealed record CeremonyState(string Kind, string? Subject, string Options, DateTimeOffset IssuedAt);

[JsonSerializable(typeof(CeremonyState))]
internal sealed partial class PasskeyJsonContext : JsonSerializerContext;
