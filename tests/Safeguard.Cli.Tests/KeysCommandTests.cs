using System.Text.Json;
using Safeguard.Hosting;

namespace Safeguard.Cli.Tests;

public sealed class KeysCommandTests : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("safeguard-cli-");

    [Theory]
    [InlineData("ES256")]
    [InlineData("PS256")]
    public async Task Demo_PrintsAJwksAndAVerifiedTokenAndRejectsATamperedOne(string algorithm)
    {
        var (exit, output, _) = await RunAsync("keys", "demo", "--algorithm", algorithm);

        Assert.Equal(0, exit);
        Assert.Contains("\"use\": \"sig\"", output, StringComparison.Ordinal);
        Assert.Contains($"\"alg\": \"{algorithm}\"", output, StringComparison.Ordinal);
        Assert.Contains("\"typ\": \"at+jwt\"", output, StringComparison.Ordinal);
        Assert.Contains("Verified: sub=demo-client", output, StringComparison.Ordinal);
        Assert.Contains("rejected, SG1020", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_RefusesAnUnsupportedAlgorithm()
    {
        var (exit, _, error) = await RunAsync("keys", "demo", "--algorithm", "HS256");

        Assert.Equal(2, exit);
        Assert.Contains("not supported", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_OnlyReads_ItNeitherCreatesNorPurgesKeys()
    {
        var (emptyExit, empty, _) = await RunAsync("keys", "list", "--data", _data.FullName, "--json");
        var (againExit, again, _) = await RunAsync("keys", "list", "--data", _data.FullName, "--json");

        Assert.Equal(0, emptyExit);
        Assert.Equal(0, againExit);
        Assert.Empty(JsonDocument.Parse(empty).RootElement.EnumerateArray());
        Assert.Empty(JsonDocument.Parse(again).RootElement.EnumerateArray());
    }

    [Fact]
    public async Task Init_CreatesAPrivateKekAndOneActiveKey_ThatListShows()
    {
        Assert.Equal(0, (await RunAsync("init", "--data", _data.FullName)).Exit);
        var (exit, output, _) = await RunAsync("keys", "list", "--data", _data.FullName, "--json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        var key = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("active", key.GetProperty("state").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SafeguardDataFolder.At(_data.FullName).KeyEncryptionKey));
    }

    [Fact]
    public async Task RotateThenRevoke_WorkOnTheSameDataFolder()
    {
        await RunAsync("init", "--data", _data.FullName);
        var (rotateExit, rotateOutput, _) = await RunAsync("keys", "rotate", "--data", _data.FullName, "--json");
        using var rotated = JsonDocument.Parse(rotateOutput);
        var states = rotated.RootElement.EnumerateArray().Select(k => k.GetProperty("state").GetString()!).ToArray();
        var pending = rotated.RootElement.EnumerateArray().Single(k => k.GetProperty("state").GetString() == "pending").GetProperty("kid").GetString()!;

        var (revokeExit, revokeOutput, _) = await RunAsync("keys", "revoke", pending, "--data", _data.FullName, "--json");

        Assert.Equal(0, rotateExit);
        Assert.Equal(["active", "pending"], states);
        Assert.Equal(0, revokeExit);
        using var revoked = JsonDocument.Parse(revokeOutput);
        Assert.Contains(revoked.RootElement.EnumerateArray(), k => k.GetProperty("kid").GetString() == pending && k.GetProperty("state").GetString() == "revoked");
    }

    [Fact]
    public async Task TwoCommandsAtOnce_TakeTurnsOnTheCommandLinesChain()
    {
        await RunAsync("init", "--data", _data.FullName);
        var folder = SafeguardDataFolder.At(_data.FullName);
        var chain = folder.DefaultAuditChain() + ".cli";
        using var store = new Safeguard.Storage.Audit.SqliteAuditStore(folder.AuditDatabase);
        var before = await store.CountAsync(chain, CancellationToken.None);
        Assert.True(before > 0, "init audits on the command line's chain");

        // Another command holds the chain: this one waits for it rather than failing or forking the chain.
        var other = await store.AcquireChainAsync(chain, CancellationToken.None);
        var rotate = Task.Run(() => RunAsync("keys", "rotate", "--data", _data.FullName));
        await Task.WhenAny(rotate, Task.Delay(TimeSpan.FromSeconds(1)));
        Assert.False(rotate.IsCompleted, "the command finished while another held its chain");
        Assert.Equal(before, await store.CountAsync(chain, CancellationToken.None));
        await other.DisposeAsync();

        var (exit, _, error) = await rotate;
        Assert.Equal(0, exit);
        Assert.Empty(error);
        Assert.True(await store.CountAsync(chain, CancellationToken.None) > before);
    }

    [Theory]
    [InlineData("../../etc/passwd", 2)]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1)]
    public async Task Revoke_ExplainsABadOrUnknownKeyId(string kid, int expectedExit)
    {
        var (exit, _, error) = await RunAsync("keys", "revoke", kid, "--data", _data.FullName);

        Assert.Equal(expectedExit, exit);
        Assert.NotEmpty(error.Trim());
    }

    [Fact]
    public async Task List_RefusesAKekFileOthersCanRead()
    {
        await RunAsync("init", "--data", _data.FullName);
        File.SetUnixFileMode(SafeguardDataFolder.At(_data.FullName).KeyEncryptionKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var (exit, _, error) = await RunAsync("keys", "list", "--data", _data.FullName);

        Assert.Equal(1, exit);
        Assert.Contains("chmod 600", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_WithTheWrongKekFromTheEnvironment_FailsWithoutTouchingTheKeys()
    {
        await RunAsync("init", "--data", _data.FullName);
        var (_, before, _) = await RunAsync("keys", "list", "--data", _data.FullName, "--json");
        Environment.SetEnvironmentVariable("SAFEGUARD_KEK", Convert.ToBase64String(new byte[32]));
        try
        {
            var (exit, _, error) = await RunAsync("keys", "list", "--data", _data.FullName);

            Assert.Equal(1, exit);
            Assert.Contains("key-encryption key", error, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SAFEGUARD_KEK", null);
        }

        var (afterExit, after, _) = await RunAsync("keys", "list", "--data", _data.FullName, "--json");
        Assert.Equal(0, afterExit);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task GenerateKek_Prints32BytesOfBase64()
    {
        var (exit, output, _) = await RunAsync("keys", "generate-kek");

        Assert.Equal(0, exit);
        Assert.Equal(32, Convert.FromBase64String(output.Trim()).Length);
    }

    [Fact]
    public async Task UnknownCommand_ExitsWithBadInput()
    {
        var (exit, _, error) = await RunAsync("keys", "frobnicate");

        Assert.Equal(2, exit);
        Assert.Contains("frobnicate", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_ReadsTheKeySettingsFromTheCommandLine_AsTheServerDoes()
    {
        var (exit, output, error) = await RunAsync("keys", "rotate", "--data", _data.FullName, "--Safeguard:Keys:PropagationTime=00:30:00", "--json");

        Assert.True(exit == 0, error);
        using var json = JsonDocument.Parse(output);
        var pending = json.RootElement.EnumerateArray().Single(k => k.GetProperty("state").GetString() == "pending");
        Assert.Equal(TimeSpan.FromMinutes(30), pending.GetProperty("activates_at").GetDateTimeOffset() - pending.GetProperty("created_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task AnInvalidSetting_StopsTheCommandBeforeAnythingIsOpened_NamingEveryProblem()
    {
        var folder = Path.Combine(_data.FullName, "never-created");

        var (exit, _, error) = await RunAsync("keys", "list", "--data", folder, "--Safeguard:Keys:Algorithm", "HS256", "--Safeguard:Audit:RetentionDays=30");

        Assert.Equal(2, exit);
        Assert.Contains("Safeguard:Keys:Algorithm", error, StringComparison.Ordinal);
        Assert.Contains("Safeguard:Audit:RetentionDays", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder));
    }

    public void Dispose() => _data.Delete(recursive: true);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await SafeguardCommand.InvokeAsync(args, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }
}
