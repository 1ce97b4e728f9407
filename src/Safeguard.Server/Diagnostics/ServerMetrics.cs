using System.Diagnostics.Metrics;

namespace Safeguard.Server.Diagnostics;

/// <summary>The server's meter: tokens issued and refused, audit outages. No secrets and no client data beyond counts.</summary>
internal sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "Safeguard.Server";
    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _issued;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _auditUnavailable;
    private readonly Counter<long> _rateLimited;

    public ServerMetrics()
    {
        _issued = _meter.CreateCounter<long>("safeguard.tokens.issued", description: "Access tokens issued.");
        _refused = _meter.CreateCounter<long>("safeguard.tokens.refused", description: "Token requests refused, by OAuth error.");
        _auditUnavailable = _meter.CreateCounter<long>("safeguard.audit.unavailable", description: "Requests answered 503 because the audit trail could not record them.");
        _rateLimited = _meter.CreateCounter<long>("safeguard.requests.rate_limited", description: "Requests answered 429 because a source address, or the node, was over its rate limit.");
    }

    public void TokenIssued(string grantType) => _issued.Add(1, new KeyValuePair<string, object?>("grant_type", grantType));

    public void TokenRefused(string error) => _refused.Add(1, new KeyValuePair<string, object?>("error", error));

    public void AuditUnavailable() => _auditUnavailable.Add(1);

    public void RateLimited() => _rateLimited.Add(1);

    public void Dispose() => _meter.Dispose();
}
