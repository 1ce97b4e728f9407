using System.Net.Http.Json;

namespace Safeguard.Audit;

/// <summary>
/// Copies every checkpoint to a webhook outside the database (a SIEM, a notary, another organisation's
/// endpoint): an HTTP POST of <c>{"chain","seq","head","jws"}</c> as JSON. https is required, except to a
/// loopback address. A failed delivery throws, which the writer logs as an alarm; the checkpoint itself is
/// already committed in the database. Configured with <c>Safeguard:Audit:CheckpointWebhook</c>.
/// </summary>
public sealed class WebhookCheckpointSink : IAuditCheckpointSink, IDisposable
{
    private readonly HttpClient _client;
    private readonly Uri _endpoint;
    private readonly bool _ownsClient;

    /// <summary>Creates the sink with an HTTP client of its own (10-second timeout, the system's trusted roots), disposed with it.</summary>
    /// <param name="endpoint">The webhook URL.</param>
    public WebhookCheckpointSink(Uri endpoint)
        : this(new HttpClient { Timeout = TimeSpan.FromSeconds(10) }, endpoint)
    {
        _ownsClient = true;
    }

    /// <summary>Creates the sink.</summary>
    /// <param name="client">The HTTP client (configure timeouts and client certificates on it).</param>
    /// <param name="endpoint">The webhook URL.</param>
    public WebhookCheckpointSink(HttpClient client, Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!IsAllowed(endpoint))
        {
            throw new ArgumentException($"The checkpoint webhook '{endpoint}' must be an absolute https URL (http is allowed to loopback only).", nameof(endpoint));
        }

        _client = client;
        _endpoint = endpoint;
    }

    /// <summary>Whether <paramref name="endpoint"/> may receive checkpoints: absolute https, or http to a loopback address.</summary>
    /// <param name="endpoint">The URL.</param>
    /// <returns>True if allowed.</returns>
    public static bool IsAllowed(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return endpoint.IsAbsoluteUri && (endpoint.Scheme == Uri.UriSchemeHttps || (endpoint.Scheme == Uri.UriSchemeHttp && endpoint.IsLoopback))
            && endpoint.UserInfo.Length == 0;
    }

    /// <inheritdoc />
    public async Task WriteAsync(AuditCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var payload = new ExportedCheckpoint(checkpoint.Chain, checkpoint.Sequence, Convert.ToHexStringLower(checkpoint.HeadHash), checkpoint.Jws);
        using var response = await _client.PostAsJsonAsync(_endpoint, payload, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private sealed record ExportedCheckpoint(
        [property: System.Text.Json.Serialization.JsonPropertyName("chain")] string Chain,
        [property: System.Text.Json.Serialization.JsonPropertyName("seq")] long Seq,
        [property: System.Text.Json.Serialization.JsonPropertyName("head")] string Head,
        [property: System.Text.Json.Serialization.JsonPropertyName("jws")] string Jws);
}
