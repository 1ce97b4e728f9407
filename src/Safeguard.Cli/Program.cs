using Safeguard.Cli;

return await SafeguardCommand.InvokeAsync(args, Console.In, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
