using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Safeguard.Cli.Hosting;
using Safeguard.Keys;
using Safeguard.Tokens;

namespace Safeguard.Cli.Keys;

/// <summary><c>safeguard keys demo</c>: the token engine end to end in memory, with a throw-away key. Nothing is written to disk.</summary>
internal static class KeysDemoCommand
{
    // Display only: keep "at+jwt" readable instead of escaping the plus sign.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(CliContext context)
    {
        var algorithm = new Option<string>("--algorithm") { Description = "ES256 (default), ES384, PS256 or RS256.", DefaultValueFactory = _ => SigningAlgorithms.ES256 };
        var command = new Command("demo", "Create an in-memory key ring, print its JWKS, issue an access token and verify it. Nothing is written to disk.");
        command.Options.Add(algorithm);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var alg = parse.GetValue(algorithm)!;
            if (!SigningAlgorithms.IsSupported(alg))
            {
                await context.Error.WriteLineAsync($"--algorithm '{alg}' is not supported; use one of {string.Join(", ", SigningAlgorithms.All)}.").ConfigureAwait(false);
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
                await context.Error.WriteLineAsync($"Issuance failed: {issued.ErrorCode} {issued.ErrorDescription}").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var result = validator.Validate(issued.Token);
            var tampered = validator.Validate(issued.Token![..^4] + (issued.Token.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA"));

            using var jwks = JsonDocument.Parse(ring.GetJwks());
            await context.Output.WriteLineAsync("JWKS (what /.well-known/jwks.json publishes):").ConfigureAwait(false);
            await context.Output.WriteLineAsync(JsonSerializer.Serialize(jwks.RootElement, Indented)).ConfigureAwait(false);
            await context.Output.WriteLineAsync().ConfigureAwait(false);
            await context.Output.WriteLineAsync($"Access token ({alg}, expires {issued.ExpiresAt:O}; a demo token from a throw-away key):").ConfigureAwait(false);
            await context.Output.WriteLineAsync(issued.Token).ConfigureAwait(false);
            await context.Output.WriteLineAsync().ConfigureAwait(false);
            await context.Output.WriteLineAsync("Header and claims:").ConfigureAwait(false);
            await context.Output.WriteLineAsync(DecodeSegment(issued.Token, 0)).ConfigureAwait(false);
            await context.Output.WriteLineAsync(DecodeSegment(issued.Token, 1)).ConfigureAwait(false);
            await context.Output.WriteLineAsync().ConfigureAwait(false);
            await context.Output.WriteLineAsync(result.IsValid
                ? $"Verified: sub={result.Token!.Subject} client_id={result.Token.ClientId} jti={result.Token.TokenId} kid={result.Token.KeyId}"
                : $"NOT verified: {result.ErrorCode}").ConfigureAwait(false);
            await context.Output.WriteLineAsync($"The same token with its signature altered: {(tampered.IsValid ? "ACCEPTED (bug)" : "rejected, " + tampered.ErrorCode)}").ConfigureAwait(false);
            return result.IsValid && !tampered.IsValid ? ExitCodes.Success : ExitCodes.Failed;
        });
        return command;
    }

    private static string DecodeSegment(string token, int index)
    {
        var segment = token.Split('.')[index];
        using var document = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(segment));
        return JsonSerializer.Serialize(document.RootElement, Indented);
    }
}
