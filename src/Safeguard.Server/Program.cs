return await Safeguard.Server.SafeguardServer.RunAsync(args).ConfigureAwait(false);
