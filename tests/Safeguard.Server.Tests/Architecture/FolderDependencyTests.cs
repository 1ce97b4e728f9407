using System.Text.RegularExpressions;

namespace Safeguard.Server.Tests.Architecture;

/// <summary>
/// Folders are features, and no two features use each other, directly or through others: the graph of
/// <c>using Safeguard.X.Folder;</c> (and namespace-qualified references) between a project's folders has no cycle.
/// The server and the handlers to come talk to storage through Core's interfaces only.
/// </summary>
public sealed partial class FolderDependencyTests
{
    [Theory]
    [InlineData("Safeguard.Core", "Safeguard")]
    [InlineData("Safeguard.Server", "Safeguard.Server")]
    [InlineData("Safeguard.Cli", "Safeguard.Cli")]
    [InlineData("Safeguard.Storage", "Safeguard.Storage")]
    public void FoldersDependOnEachOther_WithoutACycle(string project, string rootNamespace)
    {
        var graph = FolderGraph(project, rootNamespace);
        Assert.True(graph.Count > 0, "no folders read");

        var cycle = FindCycle(graph);

        Assert.True(cycle is null, $"{project}: the folders {string.Join(" -> ", cycle ?? [])} depend on each other in a circle.");
    }

    [Fact]
    public void TheServer_UsesNoStorageClassAndNoEfCore()
    {
        var offending = SourceFiles("Safeguard.Server")
            .Where(file => StorageReference().IsMatch(File.ReadAllText(file)))
            .Select(file => Path.GetRelativePath(Repository.Root, file))
            .ToList();

        Assert.True(offending.Count == 0, "these server files use Safeguard.Storage or EF Core directly: " + string.Join(", ", offending));
    }

    [Fact]
    public void TheCycleFinder_FindsACycle()
    {
        var graph = new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"], ["D"] = ["A"] };

        Assert.NotNull(FindCycle(graph));
        Assert.Null(FindCycle(new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["D"] = ["A", "C"] }));
    }

    private static IEnumerable<string> SourceFiles(string project) =>
        Directory.EnumerateFiles(Repository.PathOf("src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static Dictionary<string, HashSet<string>> FolderGraph(string project, string rootNamespace)
    {
        var projectRoot = Repository.PathOf("src", project);
        var folders = Directory.EnumerateDirectories(projectRoot).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).ToHashSet(StringComparer.Ordinal);
        var graph = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var reference = new Regex(Regex.Escape(rootNamespace) + @"\.([A-Z][A-Za-z]+)\b");
        foreach (var file in SourceFiles(project))
        {
            var relative = Path.GetRelativePath(projectRoot, file);
            var separator = relative.IndexOf(Path.DirectorySeparatorChar, StringComparison.Ordinal);
            if (separator < 0 || relative.StartsWith("Data" + Path.DirectorySeparatorChar + "Migrations", StringComparison.Ordinal))
            {
                continue;
            }

            var folder = relative[..separator];
            var edges = graph.TryGetValue(folder, out var existing) ? existing : graph[folder] = [];
            foreach (Match match in reference.Matches(File.ReadAllText(file)))
            {
                var target = match.Groups[1].Value;
                if (target != folder && folders.Contains(target))
                {
                    edges.Add(target);
                }
            }
        }

        return graph;
    }

    /// <summary>A cycle as the list of folders on it, or null.</summary>
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in graph.TryGetValue(node, out var edges) ? edges : [])
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                {
                    return found;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }

        foreach (var node in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    [GeneratedRegex(@"\bSafeguard\.Storage\b|Microsoft\.EntityFrameworkCore|\bEf[A-Z][A-Za-z]+Store\b|\bSafeguardDatabase\b")]
    private static partial Regex StorageReference();
}
