using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.AspNetCore;
using Safeguard.Audit;

namespace Safeguard.Server.Tests.Resource;

/// <summary>
/// The audit event of every request to a protected endpoint of a sample API (real server tokens, TLS, the API's own
/// SQLite trail): allowed and denied with their precise reasons, Durable and Buffered, FHIR routes, the patient
/// compartment, RFC 9470 step-up answers, and a trail that cannot take events (503, the endpoint never reached).
/// </summary>
public sealed class ResourceAuditTests : IAsyncLifetime
{
    private RunningServer _server = null!;
    private SampleApi _api = null!;
    private string _secret = null!;
    private int _reached;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _secret = (await _server.AddClientAsync("ward-app", scopes: ["patient.read", "patient.write"], resources: [SampleApi.Audience, "https://other.example.org"]))!;
        _api = await SampleApi.StartAsync(
            _server,
            builder =>
            {
                builder.Services.AddSingleton<ISafeguardPatientPolicy>(new OnlyPatient("p1"));
                builder.Services.AddAuthorizationBuilder()
                    .AddPolicy("read", p => p.RequireScopes("patient.read"))
                    .AddPolicy("write", p => p.RequireScopes("patient.read", "patient.write"))
                    .AddPolicy("compartment", p => p.RequireScopes("patient.read").RequirePatientCompartment(SafeguardPatientSource.Query("patient")))
                    .AddPolicy("mfa", p => p.RequireScopes("patient.read").RequireAcr("http://idmanagement.gov/ns/assurance/aal/2"))
                    .AddPolicy("recent", p => p.RequireScopes("patient.read").RequireAuthenticatedWithin(TimeSpan.FromMinutes(5)));
            },
            app =>
            {
                var fhir = app.MapGroup("/fhir");
                fhir.MapGet("/Patient/{id}", Reach).RequireAuthorization("read").WithSafeguardAudit(SafeguardAuditMode.Durable, fhir: true, fhirBase: "/fhir");
                fhir.MapGet("/Observation", Reach).RequireAuthorization("compartment").WithSafeguardAudit(SafeguardAuditMode.Buffered, fhir: true, fhirBase: "/fhir");
                fhir.MapPost("/Observation", Reach).RequireAuthorization("write").WithSafeguardAudit(SafeguardAuditMode.Durable, fhir: true, fhirBase: "/fhir");
                app.MapGet("/buffered/{id}", Reach).RequireAuthorization("read").WithSafeguardAudit(SafeguardAuditMode.Buffered);
                app.MapGet("/mfa", Reach).RequireAuthorization("mfa");
                app.MapGet("/recent", Reach).RequireAuthorization("recent");
                app.MapGet("/open", () => "open");
            },
            audit => audit.DurableCommitTimeout = TimeSpan.FromMilliseconds(500));
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AnAllowedDurableRequest_IsCommittedBeforeTheEndpointRuns_ThenItsStatusAndDurationFollow()
    {
        var token = await TokenAsync("patient.read");

        var response = await _api.GetAsync("/fhir/Patient/p42", token, ("User-Agent", "ward-app/1.0"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessCompleted, 1);
        var allowed = Assert.Single(events, e => e.Type == AuditEventType.PhiAccessAllowed);
        Assert.Equal(AuditOutcome.Success, allowed.Outcome);
        Assert.Equal("ward-app", allowed.Subject);
        Assert.Equal("ward-app", allowed.ClientId);
        Assert.NotNull(allowed.TokenId);
        Assert.Equal("GET", allowed.Method);
        Assert.Equal("/fhir/Patient/{id}", allowed.Route);
        Assert.Equal(AuditAction.Read, allowed.Action);
        Assert.Equal("Patient", allowed.ResourceType);
        Assert.Equal("p42", allowed.ResourceId);
        Assert.Equal("p42", allowed.PatientId);
        Assert.Equal("127.0.0.1", allowed.SourceIp);
        Assert.Equal("ward-app/1.0", allowed.UserAgent);
        Assert.Null(allowed.HttpStatus); // decided before the endpoint ran
        var completed = Assert.Single(events, e => e.Type == AuditEventType.PhiAccessCompleted);
        Assert.Equal(allowed.EventId, completed.CorrelationId);
        Assert.Equal(200, completed.HttpStatus);
        Assert.NotNull(completed.DurationMs);
        Assert.True(completed.Sequence > allowed.Sequence);
        Assert.Equal(1, _reached);
    }

    [Fact]
    public async Task ABufferedRequest_IsOneEvent_WithTheEndpointsStatusAndDuration()
    {
        var token = await TokenAsync("patient.read");

        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/buffered/7", token)).StatusCode);

        var allowed = Assert.Single(await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessAllowed, 1), e => e.Type == AuditEventType.PhiAccessAllowed);
        Assert.Equal(200, allowed.HttpStatus);
        Assert.NotNull(allowed.DurationMs);
        Assert.Equal("/buffered/{id}", allowed.Route);
        Assert.DoesNotContain(await _api.AuditEventsAsync(), e => e.Type == AuditEventType.PhiAccessCompleted);
    }

    [Fact]
    public async Task RefusedRequests_AreEachAnEvent_WithThePreciseReason_WhileTheAnswerStaysGeneric()
    {
        var token = await TokenAsync("patient.read");
        var parts = token.Split('.');
        var tampered = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];
        var otherAudience = await TokenAsync("patient.read", "https://other.example.org");

        Assert.Equal(HttpStatusCode.Unauthorized, (await _api.GetAsync("/fhir/Patient/1", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _api.GetAsync("/fhir/Patient/2", tampered)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _api.GetAsync("/fhir/Patient/3", otherAudience)).StatusCode);
        using var post = new HttpRequestMessage(HttpMethod.Post, "/fhir/Observation") { Content = new StringContent("{}") };
        post.Headers.Authorization = new("Bearer", token);
        var forbidden = await _api.Http.SendAsync(post);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("Bearer realm=\"safeguard\", error=\"insufficient_scope\", scope=\"patient.read patient.write\"", forbidden.Headers.WwwAuthenticate.ToString());
        Assert.Equal("open", await (await _api.GetAsync("/open", null)).Content.ReadAsStringAsync());

        var denied = (await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 4)).Where(e => e.Type == AuditEventType.PhiAccessDenied).ToList();
        Assert.All(denied, e => Assert.Equal(AuditOutcome.Denied, e.Outcome));
        Assert.Equal(
            [(SafeguardErrorCodes.TokenMissing, 401, "1"), (SafeguardErrorCodes.TokenSignatureInvalid, 401, "2"), (SafeguardErrorCodes.TokenAudienceInvalid, 401, "3"), (SafeguardErrorCodes.ResourceScopeMissing, 403, null)],
            denied.Select(e => (e.Reason, e.HttpStatus ?? 0, e.ResourceId)));
        Assert.Equal(AuditAction.Create, denied[3].Action);
        Assert.Equal("ward-app", denied[3].Subject);
        Assert.Null(denied[1].Subject);
        Assert.Equal(0, _reached);
        Assert.DoesNotContain(await _api.AuditEventsAsync(), e => e.Route == "/open");
    }

    [Fact]
    public async Task ThePatientCompartment_AllowsThePolicysPatient_AndRefusesAnotherOrNone()
    {
        var token = await TokenAsync("patient.read");

        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/fhir/Observation?patient=Patient/p1", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _api.GetAsync("/fhir/Observation?patient=p2", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _api.GetAsync("/fhir/Observation", token)).StatusCode);

        var allowed = Assert.Single(await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessAllowed, 1), e => e.Type == AuditEventType.PhiAccessAllowed);
        Assert.Equal(("p1", "Observation", AuditAction.Search), (allowed.PatientId, allowed.ResourceType, allowed.Action));
        var denied = (await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 2)).Where(e => e.Type == AuditEventType.PhiAccessDenied).ToList();
        Assert.Equal([("p2", SafeguardErrorCodes.ResourcePatientNotAllowed), (null, SafeguardErrorCodes.ResourcePatientNotAllowed)], denied.Select(e => (e.PatientId, e.Reason)));
        Assert.Equal(1, _reached);
    }

    [Fact]
    public async Task AnInsufficientSignIn_IsAnsweredPerRfc9470_NamingWhatWouldDo()
    {
        var token = await TokenAsync("patient.read"); // a client-credentials token: no acr, no auth_time

        var mfa = await _api.GetAsync("/mfa", token);
        var recent = await _api.GetAsync("/recent", token);

        Assert.Equal(HttpStatusCode.Unauthorized, mfa.StatusCode);
        Assert.Equal(
            "Bearer realm=\"safeguard\", error=\"insufficient_user_authentication\", error_description=\"A more recent or stronger sign-in is required\", acr_values=\"http://idmanagement.gov/ns/assurance/aal/2\"",
            mfa.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, recent.StatusCode);
        Assert.EndsWith("max_age=300", recent.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var denied = (await EventuallyAsync(e => e.Type == AuditEventType.PhiAccessDenied, 2)).Where(e => e.Type == AuditEventType.PhiAccessDenied).ToList();
        Assert.Equal([SafeguardErrorCodes.ResourceAcrInsufficient, SafeguardErrorCodes.ResourceAuthenticationTooOld], denied.Select(e => e.Reason));
        Assert.Equal(0, _reached);
    }

    [Fact]
    public async Task WhenTheTrailCannotCommit_DurableAndBufferedRequestsAre503_AndTheEndpointIsNeverReached()
    {
        var token = await TokenAsync("patient.read");
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/fhir/Patient/1", token)).StatusCode);
        Assert.Equal(1, _reached);

        // Another process holds the database's write lock: the writer's commits wait, then fail.
        using (var blocker = new SqliteConnection($"Data Source={Path.Combine(_api.DataPath, "audit.db")}"))
        {
            blocker.Open();
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }

            var durable = await _api.GetAsync("/fhir/Patient/2", token);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, durable.StatusCode);
            Assert.Equal("1", durable.Headers.RetryAfter?.ToString());

            // Buffered requests proceed while commits keep up; once queued events have waited past the bound (1 s) they are refused.
            var audit = _api.App.Services.GetRequiredService<SafeguardResourceAudit>();
            var deadline = TimeProvider.System.GetUtcNow().AddSeconds(10);
            while (audit.CanTakeBuffered && TimeProvider.System.GetUtcNow() < deadline)
            {
                await Task.Delay(100);
            }

            Assert.False(audit.CanTakeBuffered);
            var before = _reached;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _api.GetAsync("/buffered/3", token)).StatusCode);
            Assert.Equal(before, _reached);
            Assert.Equal(1, before);

            using var rollback = blocker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        // Once the database takes writes again, so does the API.
        var served = HttpStatusCode.ServiceUnavailable;
        for (var i = 0; i < 100 && served != HttpStatusCode.OK; i++)
        {
            await Task.Delay(200);
            served = (await _api.GetAsync("/fhir/Patient/4", token)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, served);
    }

    [Fact]
    public async Task ACleanStop_CommitsEveryBufferedEvent()
    {
        var token = await TokenAsync("patient.read");
        var calls = Enumerable.Range(0, 40).Select(i => _api.GetAsync($"/buffered/{i}", token));
        Assert.All(await Task.WhenAll(calls), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        await _api.App.StopAsync();

        var allowed = (await _api.AuditEventsAsync()).Where(e => e.Type == AuditEventType.PhiAccessAllowed).ToList();
        Assert.Equal(40, allowed.Count);
        Assert.All(allowed, e => Assert.Equal(("/buffered/{id}", 200), (e.Route, e.HttpStatus ?? 0)));
        Assert.Equal(40, allowed.Select(e => e.CorrelationId).Distinct().Count());
        Assert.Equal(0, _api.App.Services.GetRequiredService<SafeguardResourceAudit>().LostEvents);
    }

    [Fact]
    public async Task AFloodOfJunkTokens_IsOneEventAndOneSummary_PerSourceAndReason_AndNothingReachesTheEndpoint()
    {
        var token = await TokenAsync("patient.read");
        var parts = token.Split('.');
        var tampered = parts[0] + "." + parts[1] + "." + (parts[2][0] == 'A' ? 'B' : 'A') + parts[2][1..];
        var junk = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => _api.GetAsync($"/fhir/Patient/{i}", i % 2 == 0 ? tampered : "not-a-token")));
        Assert.All(junk, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/fhir/Patient/1", token)).StatusCode);

        await _api.App.StopAsync(); // a clean stop writes the open windows' summaries

        var denied = (await _api.AuditEventsAsync()).Where(e => e.Type == AuditEventType.PhiAccessDenied).ToList();
        foreach (var code in new[] { SafeguardErrorCodes.TokenSignatureInvalid, SafeguardErrorCodes.TokenMalformed })
        {
            var ofCode = denied.Where(e => e.Reason!.StartsWith(code, StringComparison.Ordinal)).ToList();
            Assert.Equal(2, ofCode.Count);
            var first = Assert.Single(ofCode, e => e.Count is null);
            var summary = Assert.Single(ofCode, e => e.Count is not null);
            Assert.Equal(29, summary.Count);
            Assert.Equal(first.EventId, summary.CorrelationId);
            Assert.Equal(first.SourceIp, summary.SourceIp);
        }

        Assert.Equal(1, _reached);
    }

    private IResult Reach()
    {
        Interlocked.Increment(ref _reached);
        return Results.Ok();
    }

    private Task<string> TokenAsync(string scope, string resource = SampleApi.Audience) => SampleApi.TokenAsync(_server, "ward-app", _secret, scope, resource);

    /// <summary>The trail's events, once at least <paramref name="count"/> match (Buffered events commit a moment after the answer).</summary>
    private async Task<List<AuditEvent>> EventuallyAsync(Func<AuditEvent, bool> match, int count)
    {
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(10);
        var events = await _api.AuditEventsAsync();
        while (events.Count(match) < count && TimeProvider.System.GetUtcNow() < deadline)
        {
            await Task.Delay(50);
            events = await _api.AuditEventsAsync();
        }

        return events;
    }

    private sealed class OnlyPatient(string patient) : ISafeguardPatientPolicy
    {
        public ValueTask<bool> AllowsAsync(ClaimsPrincipal user, string patientId, HttpContext context) => ValueTask.FromResult(patientId == patient);
    }
}
