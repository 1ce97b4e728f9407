using Safeguard.Cli;
using Safeguard.Hosting;

namespace Safeguard.Server.Tests;

/// <summary>The data folder holds the audit trail (subjects, addresses, patient ids) and the key-encryption key: it is its owner's alone, in serve and init alike.</summary>
public sealed class DataFolderTests : IDisposable
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string _parent = Directory.CreateTempSubdirectory("sg-folder-").FullName;

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public async Task TheServer_MakesAFolderAndEveryFileInIt_ItsOwnersAlone()
    {
        var data = Path.Combine(_parent, "data");
        await using (var server = await RunningServer.StartAsync(dataPath: data))
        {
            await server.AddClientAsync("private-files");
            await server.CreateClient().PostAsync("/token", new FormUrlEncodedContent([new("grant_type", "client_credentials")]));
            AssertPrivate(data);
        }

        AssertPrivate(data);
        Assert.True(File.Exists(SafeguardDataFolder.At(data).AuditDatabase));
    }

    [Fact]
    public async Task Init_MakesEveryFileItsOwnersAlone_AndTightensAnOlderInstallsFiles()
    {
        var data = Path.Combine(_parent, "init");
        Assert.Equal(0, await RunAsync("init", "--data", data));
        var database = SafeguardDataFolder.At(data).StateDatabase;
        File.SetUnixFileMode(database, File.GetUnixFileMode(database) | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        Assert.Equal(0, await RunAsync("clients", "list", "--data", data));

        AssertPrivate(data);
    }

    [Fact]
    public async Task AFolderOthersCanOpen_IsRefusedByServeAndInit_WithTheCommandThatMendsIt()
    {
        var data = Path.Combine(_parent, "open");
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var serve = Assert.Throws<InsecureDataFolderException>(() => SafeguardServer.Build([$"--Safeguard:DataPath={data}", "--Safeguard:Listen=https://127.0.0.1:0"]));
        using var error = new StringWriter();
        var init = await SafeguardCommand.InvokeAsync(["init", "--data", data], TextWriter.Null, error, CancellationToken.None);

        Assert.Contains($"chmod 700 {data}", serve.Message, StringComparison.Ordinal);
        Assert.Equal(1, init);
        Assert.Contains($"chmod 700 {data}", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(data));
    }

    private static void AssertPrivate(string data)
    {
        var entries = Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories).Append(data).ToList();
        Assert.True(entries.Count > 8, "the folder holds " + entries.Count + " entries");
        var open = entries.Where(e => (File.GetUnixFileMode(e) & GroupOrOther) != 0).Select(e => $"{e} ({File.GetUnixFileMode(e)})").ToList();
        Assert.True(open.Count == 0, "open to group or others: " + string.Join(", ", open));
    }

    private static async Task<int> RunAsync(params string[] args) =>
        await SafeguardCommand.InvokeAsync(args, TextWriter.Null, TextWriter.Null, CancellationToken.None);
}
