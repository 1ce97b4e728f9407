using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Safeguard.Keys;

namespace Safeguard.Server.Authorize;

/// <summary>
/// The two cookies of signing in, both <c>__Host-</c> prefixed (Secure, Path=/, no Domain), HttpOnly and
/// SameSite=Lax: the session cookie (a random secret whose hash finds the server-side session) and, between the
/// password and the second factor, the pending sign-in (who passed the password step, sealed with AES-GCM under a
/// key-encryption-key and valid for 5 minutes, so any node can read it and no browser can forge or alter it).
/// </summary>
internal sealed class SignInCookies(IKeyProtector protector, TimeProvider time)
{
    public const string Session = "__Host-safeguard-session";
    public const string Pending = "__Host-safeguard-signin";

    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);
    private static readonly byte[] PendingContext = "safeguard pending sign-in v1"u8.ToArray();

    public static CookieOptions Options() => new()
    {
        Secure = true,
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        Path = "/",
        IsEssential = true,
    };

    public static void SetSession(HttpResponse response, string secret) => response.Cookies.Append(Session, secret, Options());

    public static void ClearSession(HttpResponse response) => response.Cookies.Delete(Session, Options());

    public void SetPending(HttpResponse response, PendingSignIn pending)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(pending, SignInJsonContext.Default.PendingSignIn);
        response.Cookies.Append(Pending, Base64Url.EncodeToString(protector.Protect(json, PendingContext)), Options());
    }

    public PendingSignIn? ReadPending(HttpRequest request)
    {
        if (request.Cookies[Pending] is not { Length: > 0 and < 2048 } value)
        {
            return null;
        }

        try
        {
            var json = protector.Unprotect(Base64Url.DecodeFromChars(value), PendingContext);
            var pending = JsonSerializer.Deserialize(json, SignInJsonContext.Default.PendingSignIn);
            return pending is not null && time.GetUtcNow() < pending.PasswordVerifiedAt + PendingLifetime ? pending : null;
        }
        catch (Exception ex) when (ex is FormatException or KeyProtectionException or JsonException)
        {
            return null;
        }
    }

    public static void ClearPending(HttpResponse response) => response.Cookies.Delete(Pending, Options());
}

/// <summary>Who passed the password step, for the second-factor page.</summary>
/// <param name="Subject">The user.</param>
/// <param name="PasswordVerifiedAt">When the password was verified.</param>
/// <param name="RequestId">The pending authorization request, if the sign-in is for one.</param>
internal sealed record PendingSignIn(string Subject, DateTimeOffset PasswordVerifiedAt, string? RequestId);

[JsonSerializable(typeof(PendingSignIn))]
internal sealed partial class SignInJsonContext : JsonSerializerContext;
