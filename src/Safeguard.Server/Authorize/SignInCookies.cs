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
    public const string Enrolment = "__Host-safeguard-enrol";

    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan EnrolmentLifetime = TimeSpan.FromMinutes(30);
    private static readonly byte[] PendingContext = "safeguard pending sign-in v1"u8.ToArray();
    private static readonly byte[] EnrolmentContext = "safeguard enrolment v1"u8.ToArray();

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

    public void SetPending(HttpResponse response, PendingSignIn pending) =>
        response.Cookies.Append(Pending, Seal(JsonSerializer.SerializeToUtf8Bytes(pending, SignInJsonContext.Default.PendingSignIn), PendingContext), Options());

    public PendingSignIn? ReadPending(HttpRequest request) =>
        Unseal(request.Cookies[Pending], PendingContext, SignInJsonContext.Default.PendingSignIn) is { } pending && time.GetUtcNow() < pending.PasswordVerifiedAt + PendingLifetime
            ? pending
            : null;

    /// <summary>The enrolment in progress (the link's code, so the URL carries it only once; a TOTP seed shown but not yet confirmed, sealed).</summary>
    public void SetEnrolment(HttpResponse response, PendingEnrolment enrolment) =>
        response.Cookies.Append(Enrolment, Seal(JsonSerializer.SerializeToUtf8Bytes(enrolment, SignInJsonContext.Default.PendingEnrolment), EnrolmentContext), Options());

    public PendingEnrolment? ReadEnrolment(HttpRequest request) =>
        Unseal(request.Cookies[Enrolment], EnrolmentContext, SignInJsonContext.Default.PendingEnrolment) is { } enrolment && time.GetUtcNow() < enrolment.StartedAt + EnrolmentLifetime
            ? enrolment
            : null;

    public static void ClearEnrolment(HttpResponse response) => response.Cookies.Delete(Enrolment, Options());

    private string Seal(byte[] json, byte[] context) => Base64Url.EncodeToString(protector.Protect(json, context));

    private T? Unseal<T>(string? value, byte[] context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (value is not { Length: > 0 and < 4096 })
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(protector.Unprotect(Base64Url.DecodeFromChars(value), context), type);
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

/// <summary>An enrolment in progress.</summary>
/// <param name="Code">The enrolment link's code.</param>
/// <param name="Subject">The user it enrols.</param>
/// <param name="StartedAt">When the link was opened.</param>
/// <param name="TotpId">The id of a TOTP authenticator shown but not yet confirmed.</param>
/// <param name="TotpSeed">Its seed, sealed under the KEK (as it will be stored).</param>
/// <param name="PasswordSetHere">Whether this browser set the password in this enrolment (only then does finishing sign it in with <c>pwd</c>).</param>
internal sealed record PendingEnrolment(string Code, string Subject, DateTimeOffset StartedAt, string? TotpId = null, byte[]? TotpSeed = null, bool PasswordSetHere = false);

[JsonSerializable(typeof(PendingSignIn))]
[JsonSerializable(typeof(PendingEnrolment))]
internal sealed partial class SignInJsonContext : JsonSerializerContext;
