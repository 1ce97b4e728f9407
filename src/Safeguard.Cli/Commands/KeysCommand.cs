using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Audit;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Cli.Commands;

/// <summary><c>safeguard keys</c>: the signing key ring of a data folder, and a self-contained demo of the token engine.</summary>
internal static class KeysCommand
{
    // Display only: keep "at+jwt" readable instead of escaping the plus sign.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private const string TimeFormat = "yyyy-MM-ddTHH:mm:ssZ";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var keys = new Command("keys", "Signing keys: list, rotate, revoke; and a demo of the token engine.");
        keys.Subcommands.Add(Demo(output, error));
        keys.Subcommands.Add(List(output, error));
        keys.Subcommands.Add(Rotate(output, error));
        keys.Subcommands.Add(Revoke(output, error));
        keys.Subcommands.Add(GenerateKek(output));
        return keys;
    }

    private static Option<string> DataOption() => CliStore.DataOption();

    private static Option<bool> JsonOption() => CliStore.JsonOption();

    private static Command Demo(TextWriter output, TextWriter error)
    {
        var algorithm = new Option<string>("--algorithm") { Description = "ES256 (default), ES384, PS256 or RS256.", DefaultValueFactory = _ => SigningAlgorithms.ES256 };
        var command = new Command("demo", "Create an in-memory key ring, print its JWKS, issue an access token and verify it. Nothing is written to disk.");
        command.Options.Add(algorithm);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var alg = parse.GetValue(algorithm)!;
            if (!SigningAlgorithms.IsSupported(alg))
            {
                await error.WriteLineAsync($"--algorithm '{alg}' is not supported; use one of {string.Join(", ", SigningAlgorithms.All)}.").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            using var protector = new AesGcmKeyProtector(System.Security.Cryptography.RandomNumberGenerator.GetBytes(AesGcmKeyProtector.KeySize));
            using var ring = new SigningKeyRing(new InMemorySigningKeyStore(), protector, Options.Create(new KeyRingOptions { Algorithm = alg }), TimeProvider.System, NullLogger<SigningKeyRing>.Instance);
            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);

            const string issuerUrl = "https://localhost:5443";
            const string audience = "https://api.example.org";
            var issuer = new AccessTokenIssuer(ring, Options.Create(new AccessTokenOptions { Issuer = issuerUrl }), TimeProvider.System, NullLogger<AccessTokenIssuer>.Instance);
            using var validator = new AccessTokenValidator(ring, Options.Create(new AccessTokenValidationOptions { Issuer = issuerUrl, Audiences = { audience } }), TimeProvider.System, NullLogger<AccessTokenValidator>.Instance);

            var issued = issuer.Issue(new AccessTokenRequest
            {
                Subject = "demo-client",
                ClientId = "demo-client",
                Audiences = [audience],
                Scopes = ["patient.read"],
            });
            if (!issued.Succeeded)
            {
                await error.WriteLineAsync($"Issuance failed: {issued.ErrorCode} {issued.ErrorDescription}").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var result = validator.Validate(issued.Token);
            var tampered = validator.Validate(issued.Token![..^4] + (issued.Token.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA"));

            using var jwks = JsonDocument.Parse(ring.GetJwks());
            await output.WriteLineAsync("JWKS (what /.well-known/jwks.json publishes):").ConfigureAwait(false);
            await output.WriteLineAsync(JsonSerializer.Serialize(jwks.RootElement, Indented)).ConfigureAwait(false);
            await output.WriteLineAsync().ConfigureAwait(false);
            await output.WriteLineAsync($"Access token ({alg}, expires {issued.ExpiresAt:O}; a demo token from a throw-away key):").ConfigureAwait(false);
            await output.WriteLineAsync(issued.Token).ConfigureAwait(false);
            await output.WriteLineAsync().ConfigureAwait(false);
            await output.WriteLineAsync("Header and claims:").ConfigureAwait(false);
            await output.WriteLineAsync(DecodeSegment(issued.Token, 0)).ConfigureAwait(false);
            await output.WriteLineAsync(DecodeSegment(issued.Token, 1)).ConfigureAwait(false);
            await output.WriteLineAsync().ConfigureAwait(false);
            await output.WriteLineAsync(result.IsValid
                ? $"Verified: sub={result.Token!.Subject} client_id={result.Token.ClientId} jti={result.Token.TokenId} kid={result.Token.KeyId}"
                : $"NOT verified: {result.ErrorCode}").ConfigureAwait(false);
            await output.WriteLineAsync($"The same token with its signature altered: {(tampered.IsValid ? "ACCEPTED (bug)" : "rejected, " + tampered.ErrorCode)}").ConfigureAwait(false);
            return result.IsValid && !tampered.IsValid ? ExitCodes.Success : ExitCodes.Failed;
        });
        return command;
    }

    private static Command List(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var json = JsonOption();
        var command = new Command("list", "List the signing keys of a data folder and their states (creating the first key if there is none).");
        var database = CliStore.DatabaseOption();
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => WithRingAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async ring =>
        {
            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
            await WriteKeysAsync(output, ring, parse.GetValue(json)).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Rotate(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var json = JsonOption();
        var command = new Command("rotate", "Start a rotation now: publish a new key, which signs after the propagation time.");
        var database = CliStore.DatabaseOption();
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) => WithRingAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async ring =>
        {
            var pending = await ring.RotateAsync(cancellationToken).ConfigureAwait(false);
            if (!parse.GetValue(json))
            {
                await output.WriteLineAsync($"Key {pending.KeyId} is published and signs from {pending.ActivatesAt:O}.").ConfigureAwait(false);
            }

            await WriteKeysAsync(output, ring, parse.GetValue(json)).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Revoke(TextWriter output, TextWriter error)
    {
        var data = DataOption();
        var json = JsonOption();
        var keyId = new Argument<string>("kid") { Description = "The id of the key to revoke." };
        var command = new Command("revoke", "Revoke a key at once: it stops signing, verifying and being published.");
        var database = CliStore.DatabaseOption();
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        command.Arguments.Add(keyId);
        command.SetAction((parse, cancellationToken) => WithRingAsync(parse.GetValue(data)!, parse.GetValue(database), error, cancellationToken, async ring =>
        {
            var kid = parse.GetValue(keyId)!;
            if (!KeyIds.IsWellFormed(kid))
            {
                await error.WriteLineAsync($"'{kid}' is not a key id (base64url, up to {KeyIds.MaxLength} characters).").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
            if (!await ring.RevokeAsync(kid, cancellationToken).ConfigureAwait(false))
            {
                await error.WriteLineAsync($"No unrevoked key '{kid}' exists in this data folder.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            if (!parse.GetValue(json))
            {
                await output.WriteLineAsync($"Key {kid} revoked.").ConfigureAwait(false);
            }

            await WriteKeysAsync(output, ring, parse.GetValue(json)).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command GenerateKek(TextWriter output)
    {
        var command = new Command("generate-kek", "Print a new random key-encryption key (base64 of 32 bytes) for SAFEGUARD_KEK or a secret manager.");
        command.SetAction(async (_, _) =>
        {
            await output.WriteLineAsync(KeyEncryptionKeys.GenerateBase64()).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Runs an action on the key ring of the data folder's database; every key event it causes is audited.</summary>
#pragma warning disable CA1068 // The action lambda reads best last, after the token.
    private static Task<int> WithRingAsync(string data, string? database, TextWriter error, CancellationToken cancellationToken, Func<SigningKeyRing, Task<int>> action) =>
#pragma warning restore CA1068
        ClientsCommand.WithStoreAsync(data, database, error, cancellationToken, async cli =>
        {
            var events = new List<AuditEvent>();
            using var ring = cli.KeyRing();
            ring.LifecycleChanged += (_, change) => AddKeyEvent(events, change);
            int exit;
            try
            {
                exit = await action(ring).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is KeyProtectionException or InvalidDataException or JsonException or IOException)
            {
                await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                exit = ExitCodes.Failed;
            }

            await cli.AuditAsync(events, cancellationToken).ConfigureAwait(false);
            return exit;
        });

    /// <summary>Collects the audit event for a key change the command caused, recorded when the command ends.</summary>
    internal static void AddKeyEvent(List<AuditEvent> events, KeyLifecycleEventArgs change)
    {
        if (KeyLifecycleAudit.ToAuditEvent(change, TimeProvider.System.GetUtcNow(), "cli:" + Environment.UserName) is { } auditEvent)
        {
            events.Add(auditEvent);
        }
    }

    private static async Task WriteKeysAsync(TextWriter output, SigningKeyRing ring, bool json)
    {
        var rows = ring.Keys.OrderBy(k => k.ActivatesAt).Select(k => new KeyRow(
            k.KeyId, k.Algorithm, ring.GetState(k).ToString().ToLowerInvariant(), k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.RevokedAt)).ToList();
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(rows, CliJsonContext.Default.ListKeyRow)).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"KID",-44} {"ALG",-6} {"STATE",-8} {"SIGNS FROM",-21} RETIRES AT");
        foreach (var row in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{row.Kid,-44} {row.Alg,-6} {row.State,-8} {row.ActivatesAt.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture),-21} {(row.RetiresAt is { } r ? r.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture) : "-")}");
        }

        await output.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    private static string DecodeSegment(string token, int index)
    {
        var segment = token.Split('.')[index];
        using var document = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(segment));
        return JsonSerializer.Serialize(document.RootElement, Indented);
    }
}

/// <summary>One key, as <c>keys list --json</c> prints it.</summary>
internal sealed record KeyRow(
    string Kid, string Alg, string State, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, DateTimeOffset? RetiresAt, DateTimeOffset? RevokedAt);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<KeyRow>))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
