using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Safeguard.Audit;
using Safeguard.Cli.Hosting;
using Safeguard.Keys;

namespace Safeguard.Cli.Keys;

/// <summary>
/// <c>safeguard keys</c>: the signing key ring of a data folder, with the configured algorithm, propagation time and
/// retention (<c>Safeguard:Keys</c>, as the server reads them). Every key event a command causes is audited.
/// </summary>
internal static class KeysCommand
{
    private const string TimeFormat = "yyyy-MM-ddTHH:mm:ssZ";

    public static Command Create(CliContext context)
    {
        var keys = new Command("keys", "Signing keys: list, rotate, revoke; and a demo of the token engine.");
        keys.Subcommands.Add(KeysDemoCommand.Create(context));
        keys.Subcommands.Add(List(context));
        keys.Subcommands.Add(Rotate(context));
        keys.Subcommands.Add(Revoke(context));
        keys.Subcommands.Add(GenerateKek(context));
        return keys;
    }

    private static Command List(CliContext context) =>
        RingCommand(context, "list", "List the signing keys of a data folder and their states. It only reads: no key is created or purged (init and the server do that).", null, null, async (ring, _, json, cancellationToken) =>
        {
            await ring.ReloadAsync(cancellationToken).ConfigureAwait(false);
            await WriteKeysAsync(context.Output, ring, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Rotate(CliContext context) =>
        RingCommand(context, "rotate", "Start a rotation now: publish a new key, which signs after the propagation time (Safeguard:Keys:PropagationTime).", null, _ => KeyEvents.Requested(AuditEventType.KeyCreated, null, "rotation requested: a new key, published now, signing after the propagation time"), async (ring, _, json, cancellationToken) =>
        {
            var pending = await ring.RotateAsync(cancellationToken).ConfigureAwait(false);
            if (!json)
            {
                await context.Output.WriteLineAsync($"Key {pending.KeyId} ({pending.Algorithm}) is published and signs from {pending.ActivatesAt:O}.").ConfigureAwait(false);
            }

            await WriteKeysAsync(context.Output, ring, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Revoke(CliContext context)
    {
        var keyId = new Argument<string>("kid") { Description = "The id of the key to revoke." };
        return RingCommand(context, "revoke", "Revoke a key at once: it stops signing, verifying and being published.", keyId, kid => KeyEvents.Requested(AuditEventType.KeyRevoked, kid, "revocation requested"), async (ring, kid, json, cancellationToken) =>
        {
            await ring.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
            if (!await ring.RevokeAsync(kid!, cancellationToken).ConfigureAwait(false))
            {
                await context.Error.WriteLineAsync($"No unrevoked key '{kid}' exists in this data folder.").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            if (!json)
            {
                await context.Output.WriteLineAsync($"Key {kid} revoked.").ConfigureAwait(false);
            }

            await WriteKeysAsync(context.Output, ring, json).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command GenerateKek(CliContext context)
    {
        var command = new Command("generate-kek", "Print a new random key-encryption key (base64 of 32 bytes) for SAFEGUARD_KEK or a secret manager.");
        command.SetAction(async (_, _) =>
        {
            await context.Output.WriteLineAsync(KeyEncryptionKeys.GenerateBase64()).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// A command that runs on the data folder's key ring. A command that changes keys records what it is about to do
    /// first (<paramref name="intent"/>; if the trail cannot take it, nothing is changed), then every key event the
    /// change causes (with the key ids) when it ends, and, if it failed, that it did not complete.
    /// </summary>
    private static Command RingCommand(
        CliContext context, string name, string description, Argument<string>? keyId, Func<string?, AuditEvent>? intent,
        Func<SigningKeyRing, string?, bool, CancellationToken, Task<int>> action)
    {
        var data = CliContext.DataOption();
        var database = CliContext.DatabaseOption();
        var json = CliContext.JsonOption();
        var command = new Command(name, description);
        command.Options.Add(data);
        command.Options.Add(database);
        command.Options.Add(json);
        if (keyId is not null)
        {
            command.Arguments.Add(keyId);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var kid = keyId is null ? null : parse.GetValue(keyId);
            if (kid is not null && !KeyIds.IsWellFormed(kid))
            {
                await context.Error.WriteLineAsync($"'{kid}' is not a key id (base64url, up to {KeyIds.MaxLength} characters).").ConfigureAwait(false);
                return ExitCodes.BadInput;
            }

            return await context.RunAsync(parse.GetValue(data), parse.GetValue(database), cancellationToken, async host =>
            {
                await host.PrepareAsync(migrate: false, cancellationToken).ConfigureAwait(false);
                var ring = host.Get<SigningKeyRing>();
                if (intent?.Invoke(kid) is not { } requested)
                {
                    return await action(ring, kid, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
                }

                var exit = ExitCodes.Failed;
                List<AuditEvent> events = [];
                try
                {
                    await host.ChangeAsync(requested, async () =>
                    {
                        events = KeyEvents.Collect(ring);
                        exit = await action(ring, kid, parse.GetValue(json), cancellationToken).ConfigureAwait(false);
                        return exit == ExitCodes.Success;
                    }, cancellationToken).ConfigureAwait(false);
                    return exit;
                }
                finally
                {
                    // What changed, with the key ids, even when the command failed part way.
                    await host.AuditAsync(events, CancellationToken.None).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        });
        return command;
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
}

/// <summary>The audit events of the key changes a command causes, recorded when it ends.</summary>
internal static class KeyEvents
{
    /// <summary>What a command is about to do to the key ring, recorded before it does it.</summary>
    public static AuditEvent Requested(AuditEventType type, string? keyId, string reason)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new AuditEvent
        {
            EventId = AuditEventIds.New(now),
            Time = now,
            Type = type,
            Outcome = AuditOutcome.Success,
            Actor = "cli:" + Environment.UserName,
            Action = type == AuditEventType.KeyCreated ? AuditAction.Create : AuditAction.Update,
            ResourceType = "signing_key",
            ResourceId = keyId,
            Reason = reason,
        };
    }

    /// <summary>Starts collecting the ring's key events.</summary>
    public static List<AuditEvent> Collect(SigningKeyRing ring)
    {
        var events = new List<AuditEvent>();
        ring.LifecycleChanged += (_, change) =>
        {
            if (KeyLifecycleAudit.ToAuditEvent(change, TimeProvider.System.GetUtcNow(), "cli:" + Environment.UserName) is { } auditEvent)
            {
                events.Add(auditEvent);
            }
        };
        return events;
    }
}

/// <summary>One key, as <c>keys list --json</c> prints it.</summary>
internal sealed record KeyRow(
    string Kid, string Alg, string State, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, DateTimeOffset? RetiresAt, DateTimeOffset? RevokedAt);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(List<KeyRow>))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
