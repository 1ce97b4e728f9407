using System.Buffers.Text;
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using Safeguard.Audit;
using Safeguard.Clients;
using Safeguard.Storage.Data;

namespace Safeguard.Cli.Commands;

/// <summary><c>safeguard clients</c>: register and manage OAuth clients. A secret is printed once and stored only as a hash.</summary>
internal static class ClientsCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var clients = new Command("clients", "OAuth clients: add, list, show, disable, rotate-secret.");
        clients.Subcommands.Add(Add(output, error));
        clients.Subcommands.Add(List(output, error));
        clients.Subcommands.Add(Show(output, error));
        clients.Subcommands.Add(Disable(output, error));
        clients.Subcommands.Add(RotateSecret(output, error));
        return clients;
    }

    private static Command Add(TextWriter output, TextWriter error)
    {
        var data = CliStore.DataOption();
        var database = CliStore.DatabaseOption();
        var json = CliStore.JsonOption();
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
        var introspect = new Option<string[]>("--introspect")
        {
            Description = "For a resource server: a resource (repeatable) whose tokens this client may introspect.",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("add", "Register a client and print it (with its secret, once, for client_secret_basic).");
        foreach (var option in new Option[] { data, database, json, id, grants, scopes, resources, auth, jwks, certificate, subject, requireDpop, introspect })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var clientId = parse.GetValue(id)!;
            var method = parse.GetValue(auth)!;
            var grantTypes = Words(parse.GetValue(grants));
            if (grantTypes.Length == 0)
            {
                grantTypes = [GrantTypes.ClientCredentials];
            }

            var problems = new List<string>();
            if (!ClientIds.IsWellFormed(clientId))
            {
                problems.Add($"--id '{clientId}' is not a client id: use 1-64 characters of A-Z a-z 0-9 . _ -.");
            }

            if (grantTypes.Any(g => g != GrantTypes.ClientCredentials))
            {
                problems.Add($"--grant: only {GrantTypes.ClientCredentials} is supported.");
            }

            var allowedScopes = Words(parse.GetValue(scopes));
            if (allowedScopes.Any(s => s.Length > 128 || !s.All(c => c == '!' || (c >= '#' && c <= '[') || (c >= ']' && c <= '~'))))
            {
                problems.Add("--scope: a scope is 1-128 printable ASCII characters without spaces, quotes or backslashes.");
            }

            var allowedResources = Words(parse.GetValue(resources));
            if (allowedResources.Length == 0)
            {
                problems.Add("--resource: name at least one resource indicator (the API the tokens are for), for example https://api.example.org.");
            }

            if (allowedResources.Any(r => !Uri.TryCreate(r, UriKind.Absolute, out var uri) || r.Contains('#', StringComparison.Ordinal) || uri.Scheme is not ("https" or "http" or "urn")))
            {
                problems.Add("--resource: each resource must be an absolute URI without a fragment.");
            }

            var introspectionResources = Words(parse.GetValue(introspect));
            if (introspectionResources.Any(r => !Uri.TryCreate(r, UriKind.Absolute, out _) || r.Contains('#', StringComparison.Ordinal)))
            {
                problems.Add("--introspect: each resource must be an absolute URI without a fragment.");
            }

            string? jwksText = null;
            string? thumbprint = null;
            string? subjectName = null;
            switch (method)
            {
                case ClientAuthenticationMethods.ClientSecretBasic:
                    break;
                case ClientAuthenticationMethods.PrivateKeyJwt:
                    jwksText = ReadJwks(parse.GetValue(jwks), problems);
                    break;
                case ClientAuthenticationMethods.TlsClientAuth:
                    subjectName = ReadSubject(parse.GetValue(subject), problems);
                    break;
                case ClientAuthenticationMethods.SelfSignedTlsClientAuth:
                    thumbprint = ReadCertificate(parse.GetValue(certificate), problems);
                    break;
                default:
                    problems.Add($"--auth '{method}' is not supported; use {string.Join(", ", ClientAuthenticationMethods.All)}.");
                    break;
            }

            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await error.WriteLineAsync(problem).ConfigureAwait(false);
                }

                return ExitCodes.BadInput;
            }

            return await WithStoreAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async cli =>
            {
                var now = TimeProvider.System.GetUtcNow();
                var secret = method == ClientAuthenticationMethods.ClientSecretBasic ? ClientSecrets.Generate() : null;
                var client = new Client
                {
                    ClientId = clientId,
                    AuthenticationMethod = method,
                    GrantTypes = grantTypes,
                    AllowedScopes = allowedScopes,
                    AllowedResources = allowedResources,
                    SecretHash = secret is null ? null : ClientSecrets.Hash(secret),
                    Jwks = jwksText,
                    CertificateThumbprint = thumbprint,
                    CertificateSubject = subjectName,
                    RequireDpop = parse.GetValue(requireDpop),
                    IntrospectionResources = introspectionResources,
                    Enabled = true,
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                var store = new EfClientStore(cli.Database);
                try
                {
                    await store.AddAsync(client, cancellationToken).ConfigureAwait(false);
                }
                catch (InvalidOperationException ex)
                {
                    await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                await cli.AuditAsync([Changed(client, AuditAction.Create, "client registered", [new AuditChange("auth_method", null, method)])], cancellationToken).ConfigureAwait(false);
                await WriteAsync(output, client, secret, parse.GetValue(json)).ConfigureAwait(false);
                return ExitCodes.Success;
            }).ConfigureAwait(false);
        });
        return command;
    }

    private static Command List(TextWriter output, TextWriter error)
    {
        var data = CliStore.DataOption();
        var database = CliStore.DatabaseOption();
        var json = CliStore.JsonOption();
        var command = new Command("list", "List the registered clients (never their secrets).");
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => WithStoreAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async cli =>
        {
            var clients = await new EfClientStore(cli.Database).GetAllAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(clients.Select(c => ClientView.From(c, null)).ToList(), ClientJsonContext.Default.ListClientView)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var text = new StringBuilder();
            text.AppendLine(CultureInfo.InvariantCulture, $"{"CLIENT",-32} {"AUTH",-20} {"ENABLED",-8} {"DPOP",-5} SCOPES");
            foreach (var c in clients)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{c.ClientId,-32} {c.AuthenticationMethod,-20} {(c.Enabled ? "yes" : "no"),-8} {(c.RequireDpop ? "yes" : "no"),-5} {string.Join(' ', c.AllowedScopes)}");
            }

            await output.WriteAsync(text.ToString()).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Show(TextWriter output, TextWriter error) =>
        OneClient("show", "Show one client (never its secret).", output, error, async (cli, client, json, cancellationToken) =>
        {
            await WriteAsync(output, client, null, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Disable(TextWriter output, TextWriter error) =>
        OneClient("disable", "Disable a client: it can no longer authenticate (running servers notice within seconds). Its id stays reserved.", output, error, async (cli, client, json, cancellationToken) =>
        {
            var disabled = client with { Enabled = false, UpdatedAt = TimeProvider.System.GetUtcNow() };
            if (!await new EfClientStore(cli.Database).DisableAsync(client.ClientId, disabled.UpdatedAt, cancellationToken).ConfigureAwait(false))
            {
                await error.WriteLineAsync($"Client '{client.ClientId}' no longer exists; nothing was changed.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            await cli.AuditAsync([Changed(disabled, AuditAction.Update, "client disabled", [new AuditChange("enabled", "true", "false")])], cancellationToken).ConfigureAwait(false);
            await WriteAsync(output, disabled, null, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command RotateSecret(TextWriter output, TextWriter error) =>
        OneClient("rotate-secret", "Replace a client_secret_basic client's secret; the new one is printed once and the old one stops working.", output, error, async (cli, client, json, cancellationToken) =>
        {
            if (client.AuthenticationMethod != ClientAuthenticationMethods.ClientSecretBasic)
            {
                await error.WriteLineAsync($"Client '{client.ClientId}' authenticates with {client.AuthenticationMethod}; it has no secret to rotate.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            var secret = ClientSecrets.Generate();
            var rotated = client with { SecretHash = ClientSecrets.Hash(secret), UpdatedAt = TimeProvider.System.GetUtcNow() };
            if (!await new EfClientStore(cli.Database).SetSecretHashAsync(client.ClientId, rotated.SecretHash!, client.UpdatedAt, rotated.UpdatedAt, cancellationToken).ConfigureAwait(false))
            {
                await error.WriteLineAsync($"Client '{client.ClientId}' changed meanwhile; nothing was rotated.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            await cli.AuditAsync([Changed(rotated, AuditAction.Update, "client secret rotated", [new AuditChange("secret", "(previous)", "(new)")])], cancellationToken).ConfigureAwait(false);
            await WriteAsync(output, rotated, secret, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command OneClient(string name, string description, TextWriter output, TextWriter error, Func<CliStore, Client, bool, CancellationToken, Task<int>> action)
    {
        var data = CliStore.DataOption();
        var database = CliStore.DatabaseOption();
        var json = CliStore.JsonOption();
        var id = new Argument<string>("client_id") { Description = "The client id." };
        var command = new Command(name, description);
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.Arguments.Add(id);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var clientId = parse.GetValue(id)!;
            if (!ClientIds.IsWellFormed(clientId))
            {
                await error.WriteLineAsync($"'{clientId}' is not a client id.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await WithStoreAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async cli =>
            {
                var client = await new EfClientStore(cli.Database).FindAsync(clientId, cancellationToken).ConfigureAwait(false);
                if (client is null)
                {
                    await error.WriteLineAsync($"No client '{clientId}' is registered.").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                return await action(cli, client, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        });
        return command;
    }

#pragma warning disable CA1068 // The action lambda reads best last, after the token.
    internal static async Task<int> WithStoreAsync(string data, string? database, TextWriter error, CancellationToken cancellationToken, Func<CliStore, Task<int>> action)
#pragma warning restore CA1068
    {
        CliStore cli;
        try
        {
            cli = await CliStore.OpenAsync(data, database, migrate: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            await error.WriteLineAsync(string.Join(Environment.NewLine, ex.Failures)).ConfigureAwait(false);
            return ExitCodes.BadInput;
        }
        catch (Exception ex) when (ex is Keys.KeyProtectionException or IOException or UnauthorizedAccessException or InvalidOperationException
            or System.Data.Common.DbException or ArgumentException)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitCodes.Failed;
        }

        using (cli)
        {
            try
            {
                return await action(cli).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or AuditUnavailableException or Keys.KeyProtectionException)
            {
                await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return ExitCodes.Failed;
            }
        }
    }

    private static AuditEvent Changed(Client client, AuditAction action, string reason, IReadOnlyList<AuditChange> changes)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = AuditEventType.ClientChanged,
            Outcome = AuditOutcome.Success,
            ClientId = client.ClientId,
            Actor = "cli:" + Environment.UserName,
            Action = action,
            ResourceType = "client",
            ResourceId = client.ClientId,
            Reason = reason,
            Changes = changes,
        };
    }

    private static async Task WriteAsync(TextWriter output, Client client, string? secret, bool json)
    {
        var view = ClientView.From(client, secret);
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(view, ClientJsonContext.Default.ClientView)).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"client_id:      {view.ClientId}");
        text.AppendLine(CultureInfo.InvariantCulture, $"auth method:    {view.TokenEndpointAuthMethod}");
        text.AppendLine(CultureInfo.InvariantCulture, $"grant types:    {string.Join(' ', view.GrantTypes)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"scope:          {view.Scope}");
        text.AppendLine(CultureInfo.InvariantCulture, $"resources:      {string.Join(' ', view.Resources)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"require DPoP:   {(view.RequireDpop ? "yes" : "no")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"introspects:    {(view.IntrospectionResources.Count == 0 ? "-" : string.Join(' ', view.IntrospectionResources))}");
        text.AppendLine(CultureInfo.InvariantCulture, $"enabled:        {(view.Enabled ? "yes" : "no")}");
        if (secret is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"client_secret:  {secret}");
            text.AppendLine("The secret is shown only now and is stored only as a hash; keep it in a secret manager.");
        }

        await output.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    private static string[] Words(string[]? values) =>
        values is null ? [] : [.. values.SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal)];

    private static string? ReadJwks(string? path, List<string> problems)
    {
        if (path is null || !File.Exists(path))
        {
            problems.Add("--jwks: private_key_jwt needs a file with the client's public JWKS.");
            return null;
        }

        try
        {
            var text = File.ReadAllText(path);
            var set = new JsonWebKeySet(text);
            if (set.Keys.Count == 0 || set.Keys.Any(k => k.HasPrivateKey || k.Kty is not ("EC" or "RSA")))
            {
                problems.Add("--jwks: the set must hold at least one EC or RSA key, and public keys only.");
                return null;
            }

            return text;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or JsonException)
        {
            problems.Add($"--jwks: '{path}' is not a JWKS document ({ex.Message}).");
            return null;
        }
    }

    private static string? ReadSubject(string? value, List<string> problems)
    {
        if (value is { Length: > 1024 })
        {
            problems.Add("--subject: a distinguished name of at most 1024 characters.");
            return null;
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add("--subject: tls_client_auth needs the subject DN of the client's certificate, for example \"CN=lab-device, O=General Hospital\".");
            return null;
        }

        try
        {
            // Stored as the parser formats it, the form the server compares against.
            return new X500DistinguishedName(value).Decode(X500DistinguishedNameFlags.Reversed);
        }
        catch (CryptographicException)
        {
            problems.Add($"--subject '{value}' is not a distinguished name (RFC 4514), for example \"CN=lab-device, O=General Hospital\".");
            return null;
        }
    }

    private static string? ReadCertificate(string? path, List<string> problems)
    {
        if (path is null || !File.Exists(path))
        {
            problems.Add("--certificate: self_signed_tls_client_auth needs the client's certificate as a PEM file.");
            return null;
        }

        try
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(path));
            return Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        }
        catch (Exception ex) when (ex is CryptographicException or IOException)
        {
            problems.Add($"--certificate: '{path}' is not a PEM certificate ({ex.Message}).");
            return null;
        }
    }
}

/// <summary>A client as the commands print it; <see cref="ClientSecret"/> only right after it was generated.</summary>
internal sealed record ClientView(
    string ClientId,
    string TokenEndpointAuthMethod,
    IReadOnlyList<string> GrantTypes,
    string Scope,
    IReadOnlyList<string> Resources,
    bool RequireDpop,
    IReadOnlyList<string> IntrospectionResources,
    bool Enabled,
    string? CertificateThumbprint,
    string? CertificateSubject,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? ClientSecret)
{
    public static ClientView From(Client c, string? secret) => new(
        c.ClientId, c.AuthenticationMethod, c.GrantTypes, string.Join(' ', c.AllowedScopes), c.AllowedResources, c.RequireDpop, c.IntrospectionResources,
        c.Enabled, c.CertificateThumbprint, c.CertificateSubject, c.CreatedAt, c.UpdatedAt, secret);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ClientView))]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<ClientView>))]
internal sealed partial class ClientJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
