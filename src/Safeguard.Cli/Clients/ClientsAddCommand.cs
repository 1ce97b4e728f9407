using System.CommandLine;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Clients;

namespace Safeguard.Cli.Clients;

/// <summary><c>safeguard clients add</c>: register a client under the rules of <see cref="ClientRegistrationValidator"/>; a secret is printed once and stored only as a hash.</summary>
internal static class ClientsAddCommand
{
    public static Command Create(CliContext context)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var id = new Option<string>("--id") { Description = "The client id: 1-64 of A-Z a-z 0-9 . _ -; never reused.", Required = true };
        var grants = new Option<string[]>("--grant") { Description = "A grant type (repeatable). Default client_credentials.", AllowMultipleArgumentsPerToken = true };
        var scopes = new Option<string[]>("--scope") { Description = "Allowed scopes, space-separated or repeated.", AllowMultipleArgumentsPerToken = true };
        var resources = new Option<string[]>("--resource") { Description = "Allowed resource indicators (absolute URIs; the first is the default audience).", AllowMultipleArgumentsPerToken = true };
        var auth = new Option<string>("--auth")
        {
            Description = "client_secret_basic (default; a secret is generated and printed once), private_key_jwt (--jwks), "
                + "tls_client_auth (--subject; the server trusts the CA through Safeguard:Tls:ClientCaPath) or self_signed_tls_client_auth (--certificate).",
            DefaultValueFactory = _ => ClientAuthenticationMethods.ClientSecretBasic,
        };
        var jwks = new Option<string?>("--jwks") { Description = "For private_key_jwt: a file with the client's public JWKS." };
        var certificate = new Option<string?>("--certificate") { Description = "For self_signed_tls_client_auth: the client's certificate (PEM), pinned." };
        var subject = new Option<string?>("--subject") { Description = "For tls_client_auth: the subject DN of the client's CA-issued certificate, for example \"CN=lab-device, O=General Hospital\"." };
        var requireDpop = new Option<bool>("--require-dpop") { Description = "Every token request must carry a DPoP proof." };
        var backchannelLogout = new Option<string?>("--backchannel-logout-uri") { Description = "Where to POST a signed logout token when a session the client was part of ends (OIDC Back-Channel Logout); https." };
        var requirePar = new Option<bool>("--require-par") { Description = "Sign-in requests must be pushed first (RFC 9126 PAR); /authorize then takes only a request_uri." };
        var introspect = new Option<string[]>("--introspect")
        {
            Description = "For a resource server: a resource (repeatable) whose tokens this client may introspect.",
            AllowMultipleArgumentsPerToken = true,
        };
        var redirectUris = new Option<string[]>("--redirect-uri")
        {
            Description = "For the authorization_code grant: a redirect URI (repeatable), matched exactly; https, or http on 127.0.0.1 / [::1] for a native app.",
            AllowMultipleArgumentsPerToken = true,
        };
        var isPublic = new Option<bool>("--public") { Description = "A public client (a native or browser app without a secret; auth none): authorization_code with PKCE only." };
        var command = new Command("add", "Register a client and print it (with its secret, once, for client_secret_basic).");
        foreach (var option in new Option[] { data, database, json, id, grants, scopes, resources, auth, jwks, certificate, subject, requireDpop, requirePar, backchannelLogout, introspect, redirectUris, isPublic })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var problems = new List<string>();
            if (parse.GetValue(isPublic) && parse.GetResult(auth) is { Implicit: false })
            {
                problems.Add("--public and --auth: a public client has no authentication method; give one or the other.");
            }

            var registration = new ClientRegistration
            {
                ClientId = parse.GetValue(id)!,
                AuthenticationMethod = parse.GetValue(isPublic) ? ClientAuthenticationMethods.None : parse.GetValue(auth)!,
                GrantTypes = Words(parse.GetValue(grants)) is { Length: > 0 } named ? named : [GrantTypes.ClientCredentials],
                Scopes = Words(parse.GetValue(scopes)),
                Resources = Words(parse.GetValue(resources)),
                Jwks = ReadFile(parse.GetValue(jwks), "--jwks", problems),
                CertificatePem = ReadFile(parse.GetValue(certificate), "--certificate", problems),
                CertificateSubject = parse.GetValue(subject),
                RequireDpop = parse.GetValue(requireDpop),
                RequirePushedAuthorizationRequests = parse.GetValue(requirePar),
                BackchannelLogoutUri = parse.GetValue(backchannelLogout),
                IntrospectionResources = Words(parse.GetValue(introspect)),
                RedirectUris = Words(parse.GetValue(redirectUris)),
            };
            var validation = ClientRegistrationValidator.Validate(registration);
            problems.AddRange(validation.Errors);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await context.Error.WriteLineAsync(problem).ConfigureAwait(false);
                }

                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
                var secret = registration.AuthenticationMethod == ClientAuthenticationMethods.ClientSecretBasic ? ClientSecrets.Generate() : null;
                var client = validation.ToClient(TimeProvider.System.GetUtcNow(), secret is null ? null : ClientSecrets.Hash(secret));
                if (await host.Get<IClientStore>().FindAsync(client.ClientId, cancellationToken).ConfigureAwait(false) is not null)
                {
                    await context.Error.WriteLineAsync($"A client with id '{client.ClientId}' is already registered (client ids are never reused); nothing was changed.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                var change = ClientOutput.Changed(client, AuditAction.Create, "client registered", [new AuditChange("auth_method", null, client.AuthenticationMethod)]);
                string? refused = null;
                await host.ChangeAsync(change, async () =>
                {
                    try
                    {
                        await host.Get<IClientStore>().AddAsync(client, cancellationToken).ConfigureAwait(false);
                        return true;
                    }
                    catch (InvalidOperationException ex)
                    {
                        refused = ex.Message;
                        return false;
                    }
                }, cancellationToken).ConfigureAwait(false);
                if (refused is not null)
                {
                    await context.Error.WriteLineAsync(refused).ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                await ClientOutput.WriteAsync(context.Output, client, secret, parse.GetValue(json)).ConfigureAwait(false);
                return ExitCodes.Success;
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static string[] Words(string[]? values) =>
        values is null ? [] : [.. values.SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal)];

    private static string? ReadFile(string? path, string option, List<string> problems)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{option}: '{path}' cannot be read ({ex.Message}).");
            return null;
        }
    }
}
