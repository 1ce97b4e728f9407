using Microsoft.Extensions.Options;

namespace Safeguard.Gateway;

/// <summary>Runs the gateway from the command line (<c>safeguard-gateway --config gateway.json</c>, <c>safeguard gateway --config ...</c>).</summary>
public static class GatewayCommandLine
{
    /// <summary>The value of <c>--config</c>, or null.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>The path.</returns>
    public static string? ConfigPath(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--config")
            {
                return args[i + 1];
            }
        }

        return null;
    }

    /// <summary>Whether argument <paramref name="index"/> is <c>--config</c> or its value.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="index">The index.</param>
    /// <returns>True for the config pair.</returns>
    public static bool IsConfigArgument(string[] args, int index)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args[index] == "--config" || (index > 0 && args[index - 1] == "--config");
    }

    /// <summary>Builds, starts and runs the gateway until stopped; prints where it listens and its certificate's fingerprint.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error (configuration errors, one per line).</param>
    /// <param name="cancellationToken">Stops the gateway (as SIGTERM or Ctrl+C do).</param>
    /// <returns>The exit code: 0 after a clean stop, 2 for invalid configuration.</returns>
    public static async Task<int> RunAsync(IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        WebApplication app;
        try
        {
            app = SafeguardGateway.Build(configuration);
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync(failure).ConfigureAwait(false);
            }

            return 2;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OptionsValidationException ex)
            {
                foreach (var failure in ex.Failures)
                {
                    await error.WriteLineAsync(failure).ConfigureAwait(false);
                }

                return 2;
            }

            var certificate = app.Services.GetRequiredService<GatewayCertificate>().Certificate;
            await output.WriteLineAsync($"Safeguard gateway listening on {string.Join(", ", app.Urls)}").ConfigureAwait(false);
            await output.WriteLineAsync($"TLS certificate SHA-256: {Safeguard.AspNetCore.SafeguardTls.Fingerprint(certificate)}").ConfigureAwait(false);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }
}
