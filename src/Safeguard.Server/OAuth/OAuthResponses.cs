using System.Text.Json;

namespace Safeguard.Server.OAuth;

/// <summary>The RFC 6749 error codes this server sends, and the response writers.</summary>
internal static class OAuthResponses
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidClient = "invalid_client";
    public const string InvalidGrant = "invalid_grant";
    public const string UnauthorizedClient = "unauthorized_client";
    public const string UnsupportedGrantType = "unsupported_grant_type";
    public const string InvalidScope = "invalid_scope";
    public const string InvalidTarget = "invalid_target";
    public const string InvalidDpopProof = "invalid_dpop_proof";
    public const string UseDpopNonce = "use_dpop_nonce";
    public const string TemporarilyUnavailable = "temporarily_unavailable";

    /// <summary>Every token, revocation and introspection response carries these (RFC 6749 section 5.1).</summary>
    public static void NoStore(HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
    }

    /// <summary>Writes <c>{"error": ..., "error_description": ...}</c>.</summary>
    public static async Task WriteErrorAsync(HttpResponse response, int status, string error, string? description)
    {
        response.StatusCode = status;
        NoStore(response);
        response.ContentType = "application/json";
        await WriteJsonAsync(response, writer =>
        {
            writer.WriteString("error", error);
            if (description is not null)
            {
                writer.WriteString("error_description", description);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>Writes a JSON object with <paramref name="body"/> filling it.</summary>
    public static async Task WriteJsonAsync(HttpResponse response, Action<Utf8JsonWriter> body)
    {
        response.ContentType ??= "application/json";
        var writer = new Utf8JsonWriter(response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
            await writer.FlushAsync().ConfigureAwait(false);
        }
    }
}
