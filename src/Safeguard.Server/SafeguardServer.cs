using System.Data.Common;
using Microsoft.Extensions.Options;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Server.Hosting;

namespace Safeguard.Server;

/// <summary>Builds and runs the Safeguard authorization server.</summary>
public static class SafeguardServer
{
    /// <summary>Runs the server until it is stopped; configuration errors are printed with what to change.</summary>
    /// <param name="args">Command-line arguments (configuration overrides such as <c>--Safeguard:Listen=https://0.0.0.0:8443</c>).</param>
    /// <param name="cancellationToken">Stops the server.</param>
    /// <returns>0 after a clean stop; 2 for invalid configuration; 1 when start-up failed.</returns>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("Safeguard cannot start; fix the configuration:").ConfigureAwait(false);
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync("  - " + failure).ConfigureAwait(false);
            }

            return 2;
        }
        catch (Exception ex) when (ex is InsecureDataFolderException or KeyProtectionException)
        {
            await Console.Error.WriteLineAsync("Safeguard cannot start: " + ex.Message).ConfigureAwait(false);
            return 2;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (KeyProtectionException ex)
            {
                await Console.Error.WriteLineAsync("Safeguard cannot start: " + ex.Message).ConfigureAwait(false);
                return 2;
            }
            catch (Exception ex) when (ex is InvalidOperationException or DbException or IOException)
            {
                await Console.Error.WriteLineAsync("Safeguard failed to start: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        }

        return 0;
    }

    /// <summary>
    /// Builds the application: reads the configuration (<see cref="SafeguardConfiguration"/>), composes it with
    /// <c>AddSafeguardServer</c>, validates every option at once, and maps the endpoints. The process's new files are
    /// made private (umask 077); the data folder and the TLS certificate are prepared while Kestrel is configured; the
    /// database is opened when the application starts.
    /// </summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="configure">A hook for hosts and tests, run before the server's services are added (extra configuration sources, logging, a <see cref="TimeProvider"/>).</param>
    /// <returns>The application, not yet started.</returns>
    /// <exception cref="OptionsValidationException">Some option is invalid; the failures (all of them) say what to change.</exception>
    /// <exception cref="InsecureDataFolderException">The data folder can be opened by group or others.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        SafeguardDataFolder.RestrictNewFiles();
        // The application is this assembly whatever process hosts it (the CLI, a test runner): the sign-in pages are found in it.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = typeof(SafeguardServer).Assembly.GetName().Name,
        });
        builder.Configuration.AddSafeguardSources(args);
        configure?.Invoke(builder);
        builder.Services.AddSafeguardServer(builder.Configuration);
        builder.WebHost.ConfigureKestrel(ServerPipeline.ConfigureKestrel);

        var app = builder.Build();
        SafeguardOptionsValidation.ValidateAll(app.Services);
        app.UseSafeguardServer();
        return app;
    }
}
