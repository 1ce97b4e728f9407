using System.Text.Json;
using Duende.IdentityModel.Client;
using Safeguard.Cli;
using Safeguard.Hosting;

namespace Safeguard.Server.Tests;

/// <summary>The command line against a real server: a client registered with <c>safeguard clients add</c> gets tokens.</summary>
public sealed class CliServerTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("sg-cli-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task ClientsAdd_PrintsTheSecretOnce_AndTheClientGetsATokenFromTheServer()
    {
        Assert.Equal(0, (await RunAsync("init", "--data", _data)).Exit);
        var (exit, output, error) = await RunAsync("clients", "add", "--data", _data, "--id", "billing", "--grant", "client_credentials",
            "--scope", "patient.read", "--resource", "https://api.example", "--json");
        Assert.True(exit == 0, error);
        using var added = JsonDocument.Parse(output);
        var secret = added.RootElement.GetProperty("client_secret").GetString()!;
        Assert.Equal(43, secret.Length);

        var (_, shown, _) = await RunAsync("clients", "show", "billing", "--data", _data, "--json");
        Assert.DoesNotContain(secret, shown, StringComparison.Ordinal);
        Assert.DoesNotContain("\"client_secret\":", shown, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, File.ReadAllText(SafeguardDataFolder.At(_data).StateDatabase), StringComparison.Ordinal);

        await using var server = await RunningServer.StartAsync(dataPath: _data);
        var token = await server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "billing", ClientSecret = secret });
        Assert.False(token.IsError, token.Error);
        Assert.Equal("https://api.example", Jws.Payload(token.AccessToken!).GetProperty("aud").GetString());

        var (rotateExit, rotated, _) = await RunAsync("clients", "rotate-secret", "billing", "--data", _data, "--json");
        Assert.Equal(0, rotateExit);
        var newSecret = JsonDocument.Parse(rotated).RootElement.GetProperty("client_secret").GetString()!;
        await server.SyncAsync();
        var withOld = !(await server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "billing", ClientSecret = secret })).IsError;
        Assert.False(withOld, "the old secret still works after rotation");
        Assert.False((await server.CreateClient().RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest { Address = server.TokenEndpoint, ClientId = "billing", ClientSecret = newSecret })).IsError);

        Assert.Equal(0, (await RunAsync("clients", "disable", "billing", "--data", _data)).Exit);
        var (listExit, list, _) = await RunAsync("clients", "list", "--data", _data, "--json");
        Assert.Equal(0, listExit);
        Assert.False(JsonDocument.Parse(list).RootElement[0].GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task UsersSessions_ListsASignedInUsersSessions_AndEndSessionsSignsThemOut()
    {
        await using var server = await RunningServer.StartAsync(dataPath: _data);
        var (user, totp) = await server.AddUserAsync("jsmith", "copper lantern orchard meadow");
        using var browser = new People.FormBrowser(server);
        await browser.GetAsync("/signin");
        await browser.PostAsync("/signin", ("username", "jsmith"), ("password", "copper lantern orchard meadow"));
        await browser.GetAsync("/signin/mfa");
        await browser.PostAsync("/signin/mfa", ("code", server.TotpCode(totp!)));

        var (exit, listed, error) = await RunAsync("users", "sessions", "jsmith", "--data", _data, "--json");
        Assert.True(exit == 0, error);
        var session = Assert.Single(JsonDocument.Parse(listed).RootElement.EnumerateArray());
        var sid = session.GetProperty("sid").GetString()!;
        Assert.Equal("127.0.0.1", session.GetProperty("source_ip").GetString());
        Assert.DoesNotContain("secret", listed, StringComparison.OrdinalIgnoreCase);

        Assert.NotEqual(0, (await RunAsync("users", "end-sessions", "jsmith", "--session", "not-a-session", "--data", _data)).Exit);
        var (endExit, ended, _) = await RunAsync("users", "end-sessions", "jsmith", "--data", _data, "--json");
        Assert.Equal(0, endExit);
        Assert.Equal(sid, Assert.Single(JsonDocument.Parse(ended).RootElement.GetProperty("ended").EnumerateArray()).GetString());

        await browser.GetAsync("/");
        Assert.Contains("You are not signed in", browser.LastPage, StringComparison.Ordinal);
        Assert.Equal("[]", (await RunAsync("users", "sessions", user.Subject, "--data", _data, "--json")).Output.Trim());
    }

    [Fact]
    public async Task ClientsAdd_RequirePar_IsStored_AndOnlyForTheCodeFlow()
    {
        var (exit, output, error) = await RunAsync("clients", "add", "--data", _data, "--id", "chart", "--grant", "authorization_code",
            "--redirect-uri", "https://app.example.org/cb", "--scope", "patient.read", "--resource", "https://api.example", "--require-par", "--json");
        Assert.True(exit == 0, error);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("require_pushed_authorization_requests").GetBoolean());
        var (_, text, _) = await RunAsync("clients", "show", "chart", "--data", _data);
        Assert.Contains("require PAR:    yes", text, StringComparison.Ordinal);

        var (refused, _, why) = await RunAsync("clients", "add", "--data", _data, "--id", "svc", "--grant", "client_credentials",
            "--resource", "https://api.example", "--require-par");
        Assert.NotEqual(0, refused);
        Assert.Contains("require PAR", why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("clients", "add", "--id", "bad id", "--resource", "https://api.example")]
    [InlineData("clients", "add", "--id", "ok", "--resource", "https://api.example", "--grant", "password")]
    [InlineData("clients", "add", "--id", "ok", "--resource", "https://api.example", "--auth", "client_secret_post")]
    [InlineData("clients", "add", "--id", "ok", "--resource", "https://api.example", "--auth", "private_key_jwt")]
    [InlineData("clients", "add", "--id", "ok")]
    [InlineData("clients", "add", "--id", "ok", "--resource", "https://api.example", "--auth", "tls_client_auth")]
    [InlineData("clients", "add", "--id", "ok", "--resource", "https://api.example", "--auth", "self_signed_tls_client_auth")]
    [InlineData("clients", "show", "no such client")]
    public async Task BadInput_ExitsWith2AndSaysWhy(params string[] args)
    {
        var (exit, _, error) = await RunAsync([.. args, "--data", _data]);
        Assert.Equal(2, exit);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public async Task ClientsAdd_TlsClientAuth_StoresTheSubjectInDisplayForm()
    {
        var (exit, output, error) = await RunAsync("clients", "add", "--data", _data, "--id", "device", "--auth", "tls_client_auth",
            "--subject", "CN=lab-device,O=General Hospital", "--resource", "https://api.example", "--json");

        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("tls_client_auth", json.RootElement.GetProperty("token_endpoint_auth_method").GetString());
        Assert.Equal("CN=lab-device, O=General Hospital", json.RootElement.GetProperty("certificate_subject").GetString());
        Assert.False(json.RootElement.TryGetProperty("client_secret", out _));
    }

    [Fact]
    public async Task ClientIdsAreNeverReused_AndAdminChangesAreAudited()
    {
        Assert.Equal(0, (await RunAsync("clients", "add", "--data", _data, "--id", "once", "--resource", "https://api.example")).Exit);
        Assert.Equal(0, (await RunAsync("clients", "disable", "once", "--data", _data)).Exit);
        var (exit, _, error) = await RunAsync("clients", "add", "--data", _data, "--id", "once", "--resource", "https://api.example");
        Assert.Equal(1, exit);
        Assert.Contains("never reused", error, StringComparison.Ordinal);

        var (verifyExit, verify, _) = await RunAsync("audit", "verify", "--data", _data, "--json");
        Assert.Equal(0, verifyExit);
        Assert.True(JsonDocument.Parse(verify).RootElement.GetProperty("is_intact").GetBoolean(), verify);
        var (_, search, _) = await RunAsync("audit", "search", "--data", _data, "--type", "client.changed");
        var changes = search.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.Contains("\"type\":\"client.changed\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, changes.Count);
        Assert.Contains("\"reason\":\"client registered\"", changes[0], StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"client disabled\"", changes[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task APasswordOnTheCommandLine_IsWarnedAbout_AndServeRefusesIt()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        var withPassword = database.OwnerConnectionString + ";Password=not-a-real-one";

        var (initExit, _, initError) = await RunAsync("init", "--data", _data, "--database", withPassword);
        var (serveExit, _, serveError) = await RunAsync("serve", "--data", _data, "--database", withPassword);

        Assert.Equal(0, initExit);
        Assert.Contains("--database carries a password", initError, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-one", initError, StringComparison.Ordinal);
        Assert.Equal(2, serveExit);
        Assert.Contains("serve refuses it", serveError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostgresDatabase_InitThenClientsAdd()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        Assert.Equal(0, (await RunAsync("init", "--data", _data, "--database", database.OwnerConnectionString, $"--Safeguard:Database:ApplicationRole={database.ApplicationRole}")).Exit);
        var (exit, output, error) = await RunAsync("clients", "add", "--data", _data, "--database", database.ConnectionString, "--id", "pg-cli", "--resource", "https://api.example", "--json");
        Assert.True(exit == 0, error);
        Assert.Contains("pg-cli", output, StringComparison.Ordinal);
        var (keysExit, keys, _) = await RunAsync("keys", "list", "--data", _data, "--database", database.ConnectionString, "--json");
        Assert.Equal(0, keysExit);
        Assert.Contains("\"state\": \"active\"", keys, StringComparison.Ordinal);

        // The administrative changes went into the PostgreSQL trail, and the audit commands read it there.
        var (verifyExit, verify, verifyError) = await RunAsync("audit", "verify", "--data", _data, "--database", database.ConnectionString, "--json");
        Assert.True(verifyExit == 0, verifyError);
        Assert.True(JsonDocument.Parse(verify).RootElement.GetProperty("is_intact").GetBoolean());
        var (_, search, _) = await RunAsync("audit", "search", "--data", _data, "--database", database.ConnectionString, "--type", "client.changed");
        Assert.Contains("\"client_id\":\"pg-cli\"", search, StringComparison.Ordinal);
        Assert.False(File.Exists(SafeguardDataFolder.At(_data).AuditDatabase));
    }
}
