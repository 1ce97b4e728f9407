using System.Text.Json;
using Microsoft.Extensions.Options;
using Safeguard.Jose;
using Safeguard.Keys;

namespace Safeguard.Tokens;

/// <summary>
/// Reads an ID token this server issued when a client shows it back (<c>id_token_hint</c>, OIDC RP-Initiated Logout
/// section 2), under the one JWS policy (<see cref="JwsPolicies.IdTokenHint"/>): <c>typ</c> <c>JWT</c>, signed by one
/// of the server's signing keys named by <c>kid</c> (a revoked key never), issued by this issuer. It may have expired
/// (a person logs out after the ID token's minutes are over); it only names who and which session, it grants nothing.
/// </summary>
public sealed class IdTokenHintReader
{
    private readonly IVerificationKeySource _keys;
    private readonly AccessTokenOptions _options;

    /// <summary>Creates the reader.</summary>
    public IdTokenHintReader(IVerificationKeySource keys, IOptions<AccessTokenOptions> options)
    {
        _keys = keys ?? throw new ArgumentNullException(nameof(keys));
        _options = OptionsGuard.Validated(new AccessTokenOptionsValidator(), options);
    }

    /// <summary>What a valid hint says, or null for anything else.</summary>
    /// <param name="hint">The presented ID token.</param>
    /// <returns>The subject, session and audiences.</returns>
    public IdTokenHint? Read(string? hint)
    {
        var error = JwsReader.Read<JsonPayload>(hint, JwsPolicies.IdTokenHint, out var header, out var payload, out var segments);
        if (error != JwsError.None)
        {
            return null;
        }

        using (payload)
        {
            if (!JwsPolicies.IdTokenHint.AllowsType(header.Type) || header.KeyId is null)
            {
                return null;
            }

            var lookup = _keys.FindKey(header.KeyId);
            if (lookup.Key is not { } key || lookup.IsRevoked || key.Algorithm != header.Algorithm
                || !JwsVerifier.VerifySignature(hint!, header.Algorithm, segments, key.PublicKey))
            {
                return null;
            }

            var root = payload.Root;
            if (!Text(root, "iss", out var issuer) || issuer != _options.Issuer || !Text(root, "sub", out var subject) || !Text(root, "sid", out var session))
            {
                return null;
            }

            var audiences = new List<string>();
            if (root.TryGetProperty("aud", out var aud))
            {
                if (aud.ValueKind == JsonValueKind.String)
                {
                    audiences.Add(aud.GetString()!);
                }
                else if (aud.ValueKind == JsonValueKind.Array)
                {
                    audiences.AddRange(aud.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!));
                }
            }

            return audiences.Count == 0 ? null : new IdTokenHint(subject, session, audiences);
        }
    }

    private static bool Text(JsonElement root, string name, out string value)
    {
        value = string.Empty;
        if (root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 and <= 1024 } text)
        {
            value = text;
            return true;
        }

        return false;
    }
}

/// <summary>What an ID token hint names.</summary>
/// <param name="Subject">The user.</param>
/// <param name="SessionId">The session (<c>sid</c>).</param>
/// <param name="Audiences">The clients it was issued to.</param>
public sealed record IdTokenHint(string Subject, string SessionId, IReadOnlyList<string> Audiences);
