namespace Safeguard.Server.Tests.Architecture;

/// <summary>The repository the tests run from (found by walking up to <c>Safeguard.slnx</c>).</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
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
}
