using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Hosting;
using Safeguard.Storage.Audit;

namespace Safeguard.Cli.Tests;

public sealed class UsersCommandTests : IDisposable
{
    private const string Password = "lantern orchard copper meadow";

    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("safeguard-users-");

    [Fact]
    public async Task Add_WithPasswordStdin_CreatesAUserWithAnOpaqueSubject_AndStoresOnlyAnArgon2idHash()
    {
        var (exit, output, error) = await RunAsync(Password + "\n", "users", "add", "jsmith", "--email", "J.Smith@Clinic.Example", "--role", "clinician", "--role", "admin", "--password-stdin", "--json", "--data", _data.FullName);

        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        var sub = json.RootElement.GetProperty("sub").GetString()!;
        Assert.Matches("^usr_[a-z2-7]{26}$", sub);
        Assert.Equal("jsmith", json.RootElement.GetProperty("username").GetString());
        Assert.Equal(["admin", "clinician"], json.RootElement.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.True(json.RootElement.GetProperty("password_set").GetBoolean());
        Assert.DoesNotContain(Password, output, StringComparison.Ordinal);
        Assert.DoesNotContain("argon2", output, StringComparison.Ordinal);

        var stored = await ReadColumnAsync("SELECT password_hash FROM users WHERE subject = $s", sub);
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, File.ReadAllText(SafeguardDataFolder.At(_data.FullName).StateDatabase), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_RecordsTheChangeOnTheAuditTrail_WithoutThePassword()
    {
        var (_, output, _) = await RunAsync(Password, "users", "add", "nlee", "--password-stdin", "--json", "--data", _data.FullName);
        var sub = JsonDocument.Parse(output).RootElement.GetProperty("sub").GetString()!;

        var events = await ReadCliEventsAsync();

        var added = Assert.Single(events, e => e.Type == AuditEventType.UserChanged);
        Assert.Equal(sub, added.Subject);
        Assert.Equal(AuditAction.Create, added.Action);
        Assert.Equal(AuditOutcome.Success, added.Outcome);
        Assert.Contains(added.Changes, c => c.Field == "password" && c.New == "(set)");
        Assert.Contains(added.Changes, c => c.Field == "username" && c.New == "nlee");
        Assert.DoesNotContain(events, e => JsonSerializer.Serialize(e).Contains(Password, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("short pass", "at least 15")]
    [InlineData("1234567890qwerty", "common or breached")]
    [InlineData("jsmith-jsmith-2024", "username")]
    public async Task Add_RefusesAPasswordTheRulesRefuse_AndAddsNothing(string password, string message)
    {
        var (exit, _, error) = await RunAsync(password, "users", "add", "jsmith", "--password-stdin", "--data", _data.FullName);
        var (_, list, _) = await RunAsync(string.Empty, "users", "list", "--json", "--data", _data.FullName);

        Assert.Equal(2, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Empty(JsonDocument.Parse(list).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Add_WithoutPassword_LeavesItToEnrolment()
    {
        var (exit, output, _) = await RunAsync(string.Empty, "users", "add", "pending.user", "--data", _data.FullName);

        Assert.Equal(0, exit);
        Assert.Contains("not set (the user sets it at enrolment)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsernamesAndEmails_AreUniqueWithoutRegardToCase_AndNeverReused()
    {
        Assert.Equal(0, (await RunAsync(string.Empty, "users", "add", "JSmith", "--email", "js@clinic.example", "--data", _data.FullName)).Exit);
        await RunAsync(string.Empty, "users", "disable", "jsmith", "--data", _data.FullName);

        var (sameName, _, nameError) = await RunAsync(string.Empty, "users", "add", "jsmith", "--data", _data.FullName);
        var (sameEmail, _, emailError) = await RunAsync(string.Empty, "users", "add", "other", "--email", "JS@clinic.example", "--data", _data.FullName);

        Assert.Equal(1, sameName);
        Assert.Contains("is taken", nameError, StringComparison.Ordinal);
        Assert.Equal(1, sameEmail);
        Assert.Contains("belongs to another user", emailError, StringComparison.Ordinal);
        var events = await ReadCliEventsAsync();
        Assert.Equal(2, events.Count(e => e.Type == AuditEventType.UserChanged && e.Outcome == AuditOutcome.Error && e.Reason!.StartsWith("not done", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task DisableEnableUnlockAndSetRoles_ChangeTheUser_ByUsernameOrSubject_AndAreAudited()
    {
        var (_, added, _) = await RunAsync(string.Empty, "users", "add", "mchen", "--role", "nurse", "--json", "--data", _data.FullName);
        var sub = JsonDocument.Parse(added).RootElement.GetProperty("sub").GetString()!;

        var disabled = await JsonAsync("users", "disable", "MChen", "--json", "--data", _data.FullName);
        var enabled = await JsonAsync("users", "enable", sub, "--json", "--data", _data.FullName);
        var roles = await JsonAsync("users", "set-roles", "mchen", "--role", "physician", "--role", "admin", "--json", "--data", _data.FullName);
        var shown = await JsonAsync("users", "show", sub, "--json", "--data", _data.FullName);

        Assert.Equal("disabled", disabled.GetProperty("status").GetString());
        Assert.Equal("active", enabled.GetProperty("status").GetString());
        Assert.Equal(["admin", "physician"], roles.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(sub, shown.GetProperty("sub").GetString());
        var changes = (await ReadCliEventsAsync()).Where(e => e.Type == AuditEventType.UserChanged && e.Action == AuditAction.Update).ToList();
        Assert.Equal(3, changes.Count);
        Assert.Contains(changes, e => e.Changes.Any(c => c.Field == "status" && c.Old == "active" && c.New == "disabled"));
        Assert.Contains(changes, e => e.Changes.Any(c => c.Field == "roles" && c.Old == "nurse" && c.New == "admin physician"));
    }

    [Fact]
    public async Task Unlock_ResetsALockedUser()
    {
        var (_, added, _) = await RunAsync(string.Empty, "users", "add", "locked.user", "--json", "--data", _data.FullName);
        var sub = JsonDocument.Parse(added).RootElement.GetProperty("sub").GetString()!;
        await ExecuteAsync("UPDATE users SET status = 'locked', failed_sign_ins = 100 WHERE subject = $s", sub);

        var unlocked = await JsonAsync("users", "unlock", "locked.user", "--json", "--data", _data.FullName);

        Assert.Equal("active", unlocked.GetProperty("status").GetString());
        Assert.Equal(0, unlocked.GetProperty("failed_sign_ins").GetInt32());
    }

    [Theory]
    [InlineData("users", "add", "has space")]
    [InlineData("users", "add", "usr_abcdefghijklmnopqrstuvwxyz")]
    [InlineData("users", "add", "ok", "--email", "not-an-address")]
    [InlineData("users", "add", "ok", "--role", "Bad Role!")]
    [InlineData("users", "show", "semi;colon")]
    public async Task BadInput_IsRefusedWithAReason(params string[] args)
    {
        var (exit, _, error) = await RunAsync(string.Empty, [.. args, "--data", _data.FullName]);

        Assert.Equal(2, exit);
        Assert.NotEmpty(error.Trim());
    }

    [Fact]
    public async Task AnUnknownUser_IsAFailedOperation()
    {
        var (exit, _, error) = await RunAsync(string.Empty, "users", "disable", "nobody", "--data", _data.FullName);

        Assert.Equal(1, exit);
        Assert.Contains("No user 'nobody'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TotpEnroll_PrintsTheUriSecretAndTenRecoveryCodesOnce_StoresTheSeedSealed_AndAResetRemovesThem()
    {
        await RunAsync(Password, "users", "add", "totp.user", "--password-stdin", "--data", _data.FullName);

        var enrolled = await JsonAsync("users", "totp-enroll", "totp.user", "--json", "--data", _data.FullName);
        var (again, _, againError) = await RunAsync(string.Empty, "users", "totp-enroll", "totp.user", "--data", _data.FullName);
        var reset = await JsonAsync("users", "reset-mfa", "totp.user", "--json", "--data", _data.FullName);
        var (afterReset, _, _) = await RunAsync(string.Empty, "users", "totp-enroll", "totp.user", "--json", "--data", _data.FullName);

        var uri = enrolled.GetProperty("otpauth_uri").GetString()!;
        var secret = enrolled.GetProperty("secret").GetString()!;
        Assert.StartsWith("otpauth://totp/Safeguard:totp.user?", uri, StringComparison.Ordinal);
        Assert.Contains("secret=" + secret, uri, StringComparison.Ordinal);
        Assert.Equal(10, enrolled.GetProperty("recovery_codes").GetArrayLength());
        Assert.Equal(1, again);
        Assert.Contains("reset-mfa", againError, StringComparison.Ordinal);
        Assert.Equal(11, reset.GetProperty("removed").GetInt32());
        Assert.Equal(0, afterReset);

        var seed = OtpNet.Base32Encoding.ToBytes(secret);
        var database = await File.ReadAllBytesAsync(SafeguardDataFolder.At(_data.FullName).StateDatabase);
        Assert.True(database.AsSpan().IndexOf(seed) < 0, "the TOTP seed is stored in clear");
        var firstCode = enrolled.GetProperty("recovery_codes")[0].GetString()!.Replace("-", string.Empty, StringComparison.Ordinal);
        Assert.True(database.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(firstCode)) < 0, "a recovery code is stored in clear");

        var events = await ReadCliEventsAsync();
        Assert.Equal(2, events.Count(e => e.Type == AuditEventType.MfaEnrolled && e.Outcome == AuditOutcome.Success));
        Assert.Single(events, e => e.Type == AuditEventType.MfaRemoved && e.Changes.Any(c => c.Field == "authenticators" && c.Old == "11" && c.New == "0"));
        Assert.DoesNotContain(events, e => JsonSerializer.Serialize(e).Contains(secret, StringComparison.Ordinal));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _data.Delete(recursive: true);
    }

    [Fact]
    public async Task Add_WithoutAPassword_PrintsAOneTimeEnrolmentLink_OnTheConfiguredIssuer_AndEnrolLinkReplacesIt()
    {
        var added = await JsonAsync("users", "add", "nwu", "--json", "--data", _data.FullName, "--Safeguard:Issuer=https://auth.clinic.example");
        var link = added.GetProperty("enrolment_link").GetString()!;
        Assert.Matches(@"^https://auth\.clinic\.example/enrol\?code=[A-Za-z0-9_-]{43}$", link);
        Assert.True(added.GetProperty("enrolment_link_expires_at").GetDateTimeOffset() > TimeProvider.System.GetUtcNow().AddHours(23));
        Assert.False(added.GetProperty("password_set").GetBoolean());

        var (exit, text, error) = await RunAsync(string.Empty, "users", "enrol-link", "nwu", "--data", _data.FullName, "--Safeguard:Issuer=https://auth.clinic.example");
        Assert.True(exit == 0, error);
        Assert.Contains("works once", text, StringComparison.Ordinal);
        var second = System.Text.RegularExpressions.Regex.Match(text, @"https://\S+/enrol\?code=\S+").Value;
        Assert.NotEqual(link, second);

        // Only hashes are stored, one live link per user, and each issue is audited without the code.
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + SafeguardDataFolder.At(_data.FullName).StateDatabase);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM enrolment_links";
        Assert.Equal(1L, (long)(await command.ExecuteScalarAsync())!);
        var events = await ReadCliEventsAsync();
        Assert.Equal(2, events.Count(e => e.Reason == "enrolment link issued"));
        Assert.DoesNotContain(events, e => e.Reason!.Contains(second[(second.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparison.Ordinal));

        var withPassword = await RunAsync(Password + "\n", "users", "add", "jsmith", "--password-stdin", "--json", "--data", _data.FullName);
        Assert.DoesNotContain("enrolment_link", withPassword.Output, StringComparison.Ordinal);
    }

    private async Task<List<AuditEvent>> ReadCliEventsAsync()
    {
        var folder = SafeguardDataFolder.At(_data.FullName);
        using var store = new SqliteAuditStore(folder.AuditDatabase);
        var events = new List<AuditEvent>();
        await foreach (var record in store.ReadChainAsync(folder.DefaultAuditChain() + ".cli", 1, CancellationToken.None))
        {
            Assert.True(AuditEventParser.TryParse(record.Body, out var auditEvent));
            events.Add(auditEvent);
        }

        return events;
    }

    private async Task<string> ReadColumnAsync(string sql, string subject)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + SafeguardDataFolder.At(_data.FullName).StateDatabase);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$s", subject);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, string subject)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + SafeguardDataFolder.At(_data.FullName).StateDatabase);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$s", subject);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (exit, output, error) = await RunAsync(string.Empty, args);
        Assert.True(exit == 0, error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string input, params string[] args)
    {
        using var reader = new StringReader(input);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, reader, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }
}
