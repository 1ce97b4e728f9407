using Safeguard.Gateway;

// dotnet run --project src/Safeguard.Gateway -- --config gateway.json
var configuration = new ConfigurationBuilder();
var file = GatewayCommandLine.ConfigPath(args);
if (file is not null)
{
    configuration.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
}

configuration.AddEnvironmentVariables("SAFEGUARD_").AddCommandLine(args.Where((_, i) => !GatewayCommandLine.IsConfigArgument(args, i)).ToArray());
return await GatewayCommandLine.RunAsync(configuration.Build(), Console.Out, Console.Error).ConfigureAwait(false);
