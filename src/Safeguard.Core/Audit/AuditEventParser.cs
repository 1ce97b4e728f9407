using System.Globalization;
using System.Text.Json;

namespace Safeguard.Audit;

/// <summary>Reads a canonical event back into an <see cref="AuditEvent"/> (for exports and search).</summary>
public static class AuditEventParser
{
    /// <summary>Parses canonical bytes. Unknown members are ignored; a wrong type or unknown wire name fails.</summary>
    /// <param name="body">The canonical event.</param>
    /// <param name="auditEvent">The event.</param>
    /// <returns>False if the bytes are not an audit event.</returns>
    public static bool TryParse(ReadOnlySpan<byte> body, out AuditEvent auditEvent)
    {
        auditEvent = null!;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            string? eventId = null, type = null, outcome = null, time = null, action = null;
            var e = new AuditEvent { EventId = string.Empty, Time = default, Type = default, Outcome = default };
            var amr = new List<string>();
            var changes = new List<AuditChange>();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "event_id": eventId = reader.GetString(); break;
                    case "type": type = reader.GetString(); break;
                    case "outcome": outcome = reader.GetString(); break;
                    case "time": time = reader.GetString(); break;
                    case "action": action = reader.GetString(); break;
                    case "chain": e = e with { Chain = reader.GetString() }; break;
                    case "seq": e = e with { Sequence = reader.GetInt64() }; break;
                    case "sub": e = e with { Subject = reader.GetString() }; break;
                    case "client_id": e = e with { ClientId = reader.GetString() }; break;
                    case "actor": e = e with { Actor = reader.GetString() }; break;
                    case "sid": e = e with { SessionId = reader.GetString() }; break;
                    case "jti": e = e with { TokenId = reader.GetString() }; break;
                    case "acr": e = e with { Acr = reader.GetString() }; break;
                    case "cnf": e = e with { ConfirmationThumbprint = reader.GetString() }; break;
                    case "source_ip": e = e with { SourceIp = reader.GetString() }; break;
                    case "user_agent": e = e with { UserAgent = reader.GetString() }; break;
                    case "node_id": e = e with { NodeId = reader.GetString() }; break;
                    case "resource_type": e = e with { ResourceType = reader.GetString() }; break;
                    case "resource_id": e = e with { ResourceId = reader.GetString() }; break;
                    case "patient_id": e = e with { PatientId = reader.GetString() }; break;
                    case "purpose_of_use": e = e with { PurposeOfUse = reader.GetString() }; break;
                    case "emergency": e = e with { Emergency = reader.GetBoolean() }; break;
                    case "reason": e = e with { Reason = reader.GetString() }; break;
                    case "http_status": e = e with { HttpStatus = reader.GetInt32() }; break;
                    case "correlation_id": e = e with { CorrelationId = reader.GetString() }; break;
                    case "count": e = e with { Count = reader.GetInt32() }; break;
                    case "duration_ms": e = e with { DurationMs = reader.GetInt64() }; break;
                    case "method": e = e with { Method = reader.GetString() }; break;
                    case "route": e = e with { Route = reader.GetString() }; break;
                    case "amr":
                        while (reader.Read() && reader.TokenType == JsonTokenType.String)
                        {
                            amr.Add(reader.GetString()!);
                        }

                        break;
                    case "changes":
                        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                        {
                            string? field = null, oldValue = null, newValue = null;
                            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                            {
                                var member = reader.GetString();
                                reader.Read();
                                var value = reader.GetString();
                                switch (member)
                                {
                                    case "field": field = value; break;
                                    case "old": oldValue = value; break;
                                    case "new": newValue = value; break;
                                }
                            }

                            changes.Add(new AuditChange(field ?? string.Empty, oldValue, newValue));
                        }

                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (eventId is null || time is null || !AuditEventTypes.TryParse(type, out AuditEventType eventType)
                || !AuditEventTypes.TryParse(outcome, out AuditOutcome eventOutcome)
                || !DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            {
                return false;
            }

            AuditAction? parsedAction = null;
            if (action is not null)
            {
                if (!AuditEventTypes.TryParse(action, out AuditAction a))
                {
                    return false;
                }

                parsedAction = a;
            }

            auditEvent = e with
            {
                EventId = eventId,
                Type = eventType,
                Outcome = eventOutcome,
                Time = at,
                Action = parsedAction,
                Amr = amr,
                Changes = changes,
            };
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }
}
