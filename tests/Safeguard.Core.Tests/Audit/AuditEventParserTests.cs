using Safeguard.Audit;

namespace Safeguard.Core.Tests.Audit;

public sealed class AuditEventParserTests
{
    [Fact]
    public void AdministrativeChange_WithActorAndChanges_RoundTrips()
    {
        var original = new AuditEvent
        {
            EventId = "01a22362-df61-7147-82f2-c6039f0ec378",
            Time = new DateTimeOffset(2026, 11, 28, 18, 20, 12, TimeSpan.Zero),
            Type = AuditEventType.ClientChanged,
            Outcome = AuditOutcome.Success,
            Chain = "node.cli",
            Sequence = 3,
            Actor = "cli:root",
            ClientId = "billing",
            Action = AuditAction.Update,
            ResourceType = "client",
            ResourceId = "billing",
            Reason = "client disabled",
            Changes = [new AuditChange("enabled", "true", "false"), new AuditChange("auth_method", null, "client_secret_basic")],
        };

        Assert.True(AuditEventParser.TryParse(AuditCanonicalJson.ToBytes(original), out var parsed));

        Assert.Equal(AuditEventType.ClientChanged, parsed.Type);
        Assert.Equal("cli:root", parsed.Actor);
        Assert.Equal(AuditAction.Update, parsed.Action);
        Assert.Equal(original.Changes, parsed.Changes);
        Assert.Equal(AuditCanonicalJson.ToBytes(original), AuditCanonicalJson.ToBytes(parsed));
    }
}
