using System.Diagnostics;
using System.Reflection;

namespace Safeguard.Cli.Tests;

/// <summary>`safeguard` is a command users can type: the CLI packs as a .NET tool that installs and runs.</summary>
public sealed class ToolPackageTests : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("safeguard-tool-");

    [Fact]
    public async Task TheCli_PacksAsATool_ThatInstallsIntoAToolPath_AndRuns()
    {
        var project = Path.Combine(RepositoryRoot(), "src", "Safeguard.Cli", "Safeguard.Cli.csproj");
        var packages = Path.Combine(_work.FullName, "packages");
        var tools = Path.Combine(_work.FullName, "tools");
        var config = Path.Combine(_work.FullName, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        var version = typeof(SafeguardCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

        var pack = await RunAsync("dotnet", "pack", project, "-c", Configuration, "-o", packages, "--no-build", "--no-restore", "-nologo");
        Assert.True(pack.Exit == 0, pack.Output);
        Assert.True(File.Exists(Path.Combine(packages, $"Safeguard.Cli.{version}.nupkg")), pack.Output);

        var install = await RunAsync("dotnet", "tool", "install", "Safeguard.Cli", "--tool-path", tools, "--configfile", config, "--version", version);
        Assert.True(install.Exit == 0, install.Output);

        var run = await RunAsync(Path.Combine(tools, "safeguard"), "--version");
        Assert.Equal(0, run.Exit);
        Assert.StartsWith(version, run.Output.Trim(), StringComparison.Ordinal);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Safeguard.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Safeguard.slnx not found above " + AppContext.BaseDirectory);
    }

    private async Task<(int Exit, string Output)> RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _work.FullName,
        };
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
