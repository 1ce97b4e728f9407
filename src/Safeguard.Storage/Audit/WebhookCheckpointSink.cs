using System.Net.Http.Json;
using Safeguard.Audit;

namespace Safeguard.Storage.Audit;

/// <summary>
/// Copies every checkpoint to a webhook outside the database (a SIEM, a notary, another organisation's
/// endpoint): an HTTP POST of <c>{"chain","seq","head","jws"}</c> as JSON. https is required, except to a
/// loopback address. A failed delivery throws, which the writer logs as an alarm; the checkpoint itself is
/// already committed in the database.
/// </summary>
public sealed class WebhookCheckpointSink : IAuditCheckpointSink
{
    private readonly HttpClient _client;
    private readonly Uri _endpoint;

    /// <summary>Creates the sink.</summary>
    /// <param name="client">The HTTP client (configure timeouts and client certificates on it).</param>
    /// <param name="endpoint">The webhook URL.</param>
    public WebhookCheckpointSink(HttpClient client, Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttps && !(endpoint.Scheme == Uri.UriSchemeHttp && endpoint.IsLoopback)))
        {
            throw new ArgumentException($"The checkpoint webhook '{endpoint}' must be an absolute https URL (http is allowed to loopback only).", nameof(endpoint));
        }

        _client = client;
        _endpoint = endpoint;
    }

    /// <inheritdoc />
    public async Task WriteAsync(AuditCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var payload = new ExportedCheckpoint(checkpoint.Chain, checkpoint.Sequence, Convert.ToHexStringLower(checkpoint.HeadHash), checkpoint.Jws);
        using var response = await _client.PostAsJsonAsync(_endpoint, payload, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    private sealed record ExportedCheckpoint(
        [property: System.Text.Json.Serialization.JsonPropertyName("chain")] string Chain,
        [property: System.Text.Json.Serialization.JsonPropertyName("seq")] long Seq,
        [property: System.Text.Json.Serialization.JsonPropertyName("head")] string Head,
        [property: System.Text.Json.Serialization.JsonPropertyName("jws")] string Jws);
}
