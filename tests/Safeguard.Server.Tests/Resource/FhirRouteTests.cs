using Safeguard.AspNetCore;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.Resource;

/// <summary>What the audit event of a FHIR route records from its path.</summary>
public sealed class FhirRouteTests
{
    [Theory]
    [InlineData("GET", "/fhir/Patient/123", "Patient", "123", "123", AuditAction.Read)]
    [InlineData("GET", "/fhir/Observation", "Observation", null, null, AuditAction.Search)]
    [InlineData("POST", "/fhir/Observation/_search", "Observation", null, null, AuditAction.Search)]
    [InlineData("POST", "/fhir/Observation", "Observation", null, null, AuditAction.Create)]
    [InlineData("PUT", "/fhir/Observation/o-1.2", "Observation", "o-1.2", null, AuditAction.Update)]
    [InlineData("DELETE", "/fhir/Condition/c9", "Condition", "c9", null, AuditAction.Delete)]
    [InlineData("GET", "/fhir/Patient/p7/Observation", "Observation", null, "p7", AuditAction.Search)]
    [InlineData("GET", "/fhir/Patient/p7/_history/3", "Patient", "p7", "p7", AuditAction.Read)]
    [InlineData("GET", "/fhir/Patient/p7/$everything", "Patient", "p7", "p7", AuditAction.Execute)]
    [InlineData("POST", "/fhir/$export", null, null, null, AuditAction.Execute)]
    [InlineData("GET", "/fhir/metadata", null, null, null, null)]
    [InlineData("GET", "/other/Patient/1", null, null, null, null)]
    [InlineData("GET", "/fhir/Patient/" + "../etc", "Patient", null, null, AuditAction.Search)]
    public void APath_NamesItsTypeIdPatientAndAction(string method, string path, string? type, string? id, string? patient, AuditAction? action)
    {
        var parsed = SafeguardResourceAccess.Fhir.Parse(method, path, "/fhir");

        Assert.Equal((type, id, patient, action), (parsed.Type, parsed.Id, parsed.Patient, parsed.Action));
    }
}

/// <summary>How the handler reads the Authorization header.</summary>
public sealed class CredentialsHeaderTests
{
    [Theory]
    [InlineData("Bearer abc.def.ghi", true, false, "abc.def.ghi")]
    [InlineData("bearer abc.def.ghi", true, false, "abc.def.ghi")]
    [InlineData("DPoP abc.def.ghi", true, true, "abc.def.ghi")]
    [InlineData("dpop   abc.def.ghi", true, true, "abc.def.ghi")]
    [InlineData("Bearer", false, false, "")]
    [InlineData("Bearer ", false, false, "")]
    [InlineData("Basic abc", false, false, "")]
    [InlineData("Bearer abc def", false, false, "")]
    [InlineData("Bearer abc,def", false, false, "")]
    [InlineData("Bearerabc", false, false, "")]
    [InlineData(" Bearer abc", false, false, "")]
    public void TheSchemeAndOneToken_AndNothingElse(string value, bool read, bool dpop, string token)
    {
        Assert.Equal(read, SafeguardJwtHandler.TryReadCredentials(value, out var isDpop, out var parsed));
        if (read)
        {
            Assert.Equal((dpop, token), (isDpop, parsed));
        }
    }
}
