using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Safeguard.Server.Tests.Architecture;

/// <summary>The error-code catalogue and its documentation agree, and every operational log message has an event id from one catalogue.</summary>
public sealed partial class CatalogueTests
{
    private static readonly Assembly[] Products =
    [
        typeof(SafeguardErrorCodes).Assembly,
        typeof(Storage.Data.SafeguardDatabase).Assembly,
        typeof(SafeguardServer).Assembly,
        typeof(Cli.SafeguardCommand).Assembly,
        typeof(Storage.Audit.SqliteAuditStore).Assembly,
        typeof(AspNetCore.SafeguardJwtHandler).Assembly,
        typeof(Safeguard.Gateway.SafeguardGateway).Assembly,
    ];

    [Fact]
    public void EveryErrorCode_IsDocumented_AndTheDocumentationNamesNoOtherCode()
    {
        var codes = typeof(SafeguardErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        var documented = DocumentedCode().Matches(File.ReadAllText(Repository.PathOf("docs", "error-codes.md"))).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(codes);
        Assert.Equal(codes.Count, codes.Distinct(StringComparer.Ordinal).Count());
        Assert.Empty(codes.Except(documented, StringComparer.Ordinal));
        Assert.Empty(documented.Except(codes, StringComparer.Ordinal));
        Assert.Equal(documented.Count, documented.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void EveryLogMessage_HasAnEventIdFromTheCatalogue_UsedByItAlone()
    {
        var catalogue = typeof(LogEvents).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .ToDictionary(f => (int)f.GetRawConstantValue()!, f => f.Name);
        var messages = Products
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();

        Assert.True(messages.Count >= 20, $"only {messages.Count} log messages found");
        Assert.Equal(catalogue.Count, catalogue.Keys.Distinct().Count());
        foreach (var (method, attribute) in messages)
        {
            Assert.True(catalogue.ContainsKey(attribute!.EventId), $"{method.DeclaringType!.FullName}.{method.Name} has event id {attribute.EventId}, which is not in LogEvents.");
        }

        var shared = messages.GroupBy(x => x.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => catalogue[g.Key]).ToList();
        Assert.True(shared.Count == 0, "event ids used by more than one message: " + string.Join(", ", shared));
    }

    [GeneratedRegex(@"^\| (SG\d{4}) \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedCode();
}
