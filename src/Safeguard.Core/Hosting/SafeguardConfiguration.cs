using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Safeguard.Hosting;

/// <summary>
/// Where every Safeguard host (the server, each CLI command, later the gateway) reads its settings, later sources
/// winning: <c>appsettings.json</c> beside the program, <c>appsettings.json</c> in the working directory,
/// <c>appsettings.json</c> in the data folder, <c>Safeguard__...</c> environment variables, then
/// <c>--Safeguard:...</c> arguments. Everything is under the <see cref="Section"/> section.
/// </summary>
public static class SafeguardConfiguration
{
    /// <summary>The configuration section every Safeguard option lives under.</summary>
    public const string Section = "Safeguard";

    /// <summary>Adds Safeguard's sources, in order, to a configuration.</summary>
    /// <param name="builder">The configuration (a host's, or a new one).</param>
    /// <param name="args">Command-line arguments (<c>--Safeguard:Listen=...</c>); others are ignored by the binder.</param>
    /// <returns>The builder.</returns>
    public static IConfigurationBuilder AddSafeguardSources(this IConfigurationBuilder builder, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(args);
        var files = new List<string> { Path.Combine(AppContext.BaseDirectory, SafeguardDataFolder.SettingsFileName) };
        var working = Path.Combine(Directory.GetCurrentDirectory(), SafeguardDataFolder.SettingsFileName);
        if (!files.Contains(working, StringComparer.Ordinal))
        {
            files.Add(working);
        }

        // The data folder is itself a setting: find it from every other source first.
        var probe = new ConfigurationBuilder();
        AddFiles(probe, files);
        probe.AddEnvironmentVariables().AddCommandLine([.. args]);
        var dataPath = probe.Build().GetSection(Section).GetValue<string>(nameof(DataFolderOptions.DataPath));
        if (!string.IsNullOrWhiteSpace(dataPath))
        {
            var settings = SafeguardDataFolder.At(dataPath).Settings;
            if (!files.Contains(settings, StringComparer.Ordinal))
            {
                files.Add(settings);
            }
        }

        AddFiles(builder, files);
        return builder.AddEnvironmentVariables().AddCommandLine([.. args]);
    }

    /// <summary>A configuration with only Safeguard's sources (for tools that have no host).</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <returns>The configuration.</returns>
    public static IConfigurationRoot Build(IReadOnlyList<string> args) => new ConfigurationBuilder().AddSafeguardSources(args).Build();

    private static void AddFiles(IConfigurationBuilder builder, IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            builder.AddJsonFile(file, optional: true, reloadOnChange: false);
        }
    }
}

/// <summary>The <c>Safeguard</c> section's <c>DataPath</c>: where the data folder is.</summary>
public sealed record DataFolderOptions
{
    /// <summary>The data folder, relative to the working directory. Default <c>data</c>.</summary>
    public string DataPath { get; set; } = "data";
}

/// <summary>Checks <see cref="DataFolderOptions"/>.</summary>
public sealed class DataFolderOptionsValidator : IValidateOptions<DataFolderOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DataFolderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.DataPath)
            ? ValidateOptionsResult.Fail("Safeguard:DataPath is empty; set a folder for the database, keys and certificate, for example ./data.")
            : ValidateOptionsResult.Success;
    }
}

/// <summary>Validates every option registered with <c>ValidateOnStart</c> at once, so a host can stop before it opens anything.</summary>
public static class SafeguardOptionsValidation
{
    /// <summary>Runs the start-up validation of <paramref name="services"/> and reports every failure in one exception.</summary>
    /// <param name="services">The container.</param>
    /// <exception cref="OptionsValidationException">Some option is invalid; <see cref="OptionsValidationException.Failures"/> lists them all, each saying what to change.</exception>
    public static void ValidateAll(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        try
        {
            (services.GetService(typeof(IStartupValidator)) as IStartupValidator)?.Validate();
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            var failures = ex.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures).Distinct(StringComparer.Ordinal).ToList();
            throw new OptionsValidationException(SafeguardConfiguration.Section, typeof(SafeguardConfiguration), failures);
        }
    }
}
