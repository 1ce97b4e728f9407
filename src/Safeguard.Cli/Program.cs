using Safeguard.Cli;

return await SafeguardCommand.InvokeAsync(args, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
