using System.Text;
using Microsoft.Data.Sqlite;
using Safeguard.Audit;
using Safeguard.Keys;

namespace Safeguard.Storage.Tests.Audit;

/// <summary>
/// An attacker with write access to the database but not the audit key: every kind of tampering is caught, at
/// its sequence number, by the verifier.
/// </summary>
public sealed class AuditTamperTests
{
    private const long Target = 37;

    public static TheoryData<string, AuditProblemKind> Attacks => new()
    {
        { "modify a field", AuditProblemKind.Modified },
        { "delete a row", AuditProblemKind.Missing },
        { "delete a row and renumber the rest", AuditProblemKind.Missing },
        { "insert a row", AuditProblemKind.Inserted },
        { "swap two rows", AuditProblemKind.Reordered },
        { "truncate the tail", AuditProblemKind.Truncated },
        { "recompute the whole chain after an edit", AuditProblemKind.Modified },
        { "forge a checkpoint signature", AuditProblemKind.BadSignature },
    };

    [Fact]
    public async Task Verify_FindsAnUntouchedTrailIntact()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(100);
        await trail.Writer.StopAsync();

        var report = await trail.VerifyAsync();

        var chain = Assert.Single(report.Chains);
        Assert.True(report.IsIntact, string.Join("; ", chain.Problems.Select(p => p.Detail)));
        Assert.True(chain.Events > 100, "Checkpoint markers are events of the chain too.");
        Assert.True(chain.CheckpointsVerified >= 10);
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task Verify_DetectsTamperingAtItsSequenceNumber(string attack, AuditProblemKind expected)
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(100);
        await trail.Writer.StopAsync();
        var forgedCheckpointAt = 0L;

        trail.Tamper(db =>
        {
            switch (attack)
            {
                case "modify a field":
                {
                    var (body, _) = AuditTrailFixture.Row(db, Target);
                    SetBody(db, Target, Edit(body));
                    break;
                }

                case "delete a row":
                    AuditTrailFixture.Execute(db, "DELETE FROM audit_events WHERE seq = $s", ("$s", Target));
                    break;
                case "delete a row and renumber the rest":
                    AuditTrailFixture.Execute(db, "DELETE FROM audit_events WHERE seq = $s", ("$s", Target));
                    AuditTrailFixture.Execute(db, "UPDATE audit_events SET seq = -seq WHERE seq > $s", ("$s", Target));
                    AuditTrailFixture.Execute(db, "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0");
                    break;
                case "insert a row":
                {
                    var (_, previousHash) = AuditTrailFixture.Row(db, Target - 1);
                    AuditTrailFixture.Execute(db, "UPDATE audit_events SET seq = -seq WHERE seq >= $s", ("$s", Target));
                    AuditTrailFixture.Execute(db, "UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0");
                    var forged = AuditTrailFixture.Event(999) with { Chain = AuditTrailFixture.Chain, Sequence = Target, Subject = "attacker-alibi" };
                    var body = AuditCanonicalJson.ToBytes(forged);
                    var hash = new byte[32];
                    AuditHash.Next(previousHash, body, hash);
                    AuditTrailFixture.Execute(db,
                        "INSERT INTO audit_events (chain, seq, time, body, hash) VALUES ($c, $s, 0, $b, $h)",
                        ("$c", AuditTrailFixture.Chain), ("$s", Target), ("$b", body), ("$h", hash));
                    break;
                }

                case "swap two rows":
                {
                    var (bodyA, hashA) = AuditTrailFixture.Row(db, Target);
                    var (bodyB, hashB) = AuditTrailFixture.Row(db, Target + 1);
                    SetRow(db, Target, bodyB, hashB);
                    SetRow(db, Target + 1, bodyA, hashA);
                    break;
                }

                case "truncate the tail":
                    AuditTrailFixture.Execute(db, "DELETE FROM audit_events WHERE seq >= $s", ("$s", Target));
                    AuditTrailFixture.Execute(db, "DELETE FROM audit_checkpoints WHERE seq >= $s", ("$s", Target));
                    break;
                case "recompute the whole chain after an edit":
                {
                    // The attacker knows the algorithm: everything after the edit is re-hashed and self-consistent.
                    var (_, previous) = AuditTrailFixture.Row(db, Target - 1);
                    var last = (long)new SqliteCommand("SELECT max(seq) FROM audit_events", db).ExecuteScalar()!;
                    for (var seq = Target; seq <= last; seq++)
                    {
                        var (body, _) = AuditTrailFixture.Row(db, seq);
                        if (seq == Target)
                        {
                            body = Edit(body);
                        }

                        var hash = new byte[32];
                        AuditHash.Next(previous, body, hash);
                        SetRow(db, seq, body, hash);
                        previous = hash;
                    }

                    break;
                }

                case "forge a checkpoint signature":
                {
                    // A checkpoint over the attacker's version of event 50, signed with a key of the attacker's own.
                    using var attackerKek = new AesGcmKeyProtector(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
                    var attackerKeys = new AuditSigningKeys(new InMemorySigningKeyStore(), attackerKek, TimeProvider.System);
                    attackerKeys.LoadAsync(createIfMissing: true, CancellationToken.None).GetAwaiter().GetResult();
                    forgedCheckpointAt = 50;
                    var (_, hash) = AuditTrailFixture.Row(db, forgedCheckpointAt);
                    var forged = AuditCheckpoints.Sign(attackerKeys.Current!, AuditTrailFixture.Chain, forgedCheckpointAt, hash, 1, hash, DateTimeOffset.UnixEpoch);
                    AuditTrailFixture.Execute(db, "DELETE FROM audit_checkpoints WHERE seq = $s", ("$s", forgedCheckpointAt));
                    AuditTrailFixture.Execute(db, "INSERT INTO audit_checkpoints (chain, seq, head, time, jws) VALUES ($c, $s, $h, 'not-a-time', $j)",
                        ("$c", AuditTrailFixture.Chain), ("$s", forgedCheckpointAt), ("$h", hash), ("$j", forged.Jws));
                    break;
                }

                default:
                    throw new ArgumentOutOfRangeException(nameof(attack), attack, "No such attack.");
            }
        });

        var report = await trail.VerifyAsync();

        var chain = Assert.Single(report.Chains);
        Assert.False(report.IsIntact);
        var first = chain.Problems[0];
        Assert.Equal(expected, first.Kind);
        var at = attack == "forge a checkpoint signature" ? forgedCheckpointAt : Target;
        Assert.InRange(at, first.Sequence, first.LastSequence);
        if (attack != "recompute the whole chain after an edit")
        {
            Assert.Equal(at, first.Sequence);
        }
    }

    [Fact]
    public async Task Verify_StillChecksContentWhenRowsWereAlsoReordered()
    {
        // Swap two rows and edit a third next to them: the reorder must not hide the edit.
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(60);
        await trail.Writer.StopAsync();
        trail.Tamper(db =>
        {
            var (bodyA, hashA) = AuditTrailFixture.Row(db, 30);
            var (bodyB, hashB) = AuditTrailFixture.Row(db, 35);
            SetRow(db, 30, bodyB, hashB);
            SetRow(db, 35, bodyA, hashA);
            var (body, _) = AuditTrailFixture.Row(db, 32);
            SetBody(db, 32, Edit(body));
        });

        var report = await trail.VerifyAsync();

        var problems = Assert.Single(report.Chains).Problems;
        Assert.Contains(problems, p => p.Kind == AuditProblemKind.Reordered && p.Sequence == 30);
        Assert.Contains(problems, p => p.Kind == AuditProblemKind.Modified && p.Sequence == 32);
    }

    [Fact]
    public async Task Verify_ReportsARowWithAnOversizedHashInsteadOfCrashing()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(20);
        await trail.Writer.StopAsync();
        trail.Tamper(db => AuditTrailFixture.Execute(db, "UPDATE audit_events SET hash = zeroblob(4096) WHERE seq = 7"));

        var report = await trail.VerifyAsync();

        var problem = Assert.Single(report.Chains).Problems[0];
        Assert.Equal(AuditProblemKind.Modified, problem.Kind);
        Assert.Equal(7, problem.Sequence);
    }

    [Fact]
    public async Task Verify_WithoutTheExportedCheckpoints_StillCatchesARecomputedChainFromTheDatabaseCheckpoints()
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(60);
        await trail.Writer.StopAsync();
        trail.Tamper(db =>
        {
            var (body, _) = AuditTrailFixture.Row(db, 5);
            var (_, previous) = AuditTrailFixture.Row(db, 4);
            var hash = new byte[32];
            AuditHash.Next(previous, Edit(body), hash);
            SetRow(db, 5, Edit(body), hash);
            for (long seq = 6; seq <= 20; seq++)
            {
                var (next, _) = AuditTrailFixture.Row(db, seq);
                var h = new byte[32];
                AuditHash.Next(hash, next, h);
                SetRow(db, seq, next, h);
                hash = h;
            }
        });

        await trail.Keys.LoadAsync(createIfMissing: false, CancellationToken.None);
        var report = await new AuditVerifier(trail.Store, trail.Keys.Trusted).VerifyAsync(null, CancellationToken.None);

        var problem = Assert.Single(report.Chains).Problems[0];
        Assert.Equal(AuditProblemKind.Modified, problem.Kind);
        Assert.InRange(5, problem.Sequence, problem.LastSequence);
    }

    [Theory]
    [InlineData("UPDATE audit_events SET time = 0")]
    [InlineData("DELETE FROM audit_events")]
    [InlineData("UPDATE audit_checkpoints SET jws = 'x'")]
    [InlineData("DELETE FROM audit_checkpoints")]
    public async Task Database_RefusesUpdateAndDelete(string sql)
    {
        await using var trail = await AuditTrailFixture.StartAsync();
        await trail.AppendAsync(20);
        await trail.Writer.StopAsync();
        using var connection = new SqliteConnection($"Data Source={trail.DatabasePath};Pooling=False");
        connection.Open();

        var error = Assert.Throws<SqliteException>(() => AuditTrailFixture.Execute(connection, sql));

        Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
        Assert.True((await trail.VerifyAsync()).IsIntact);
    }

    private static byte[] Edit(byte[] body)
    {
        // Change the year of the event's time: a one-character edit, as a forger would make.
        var text = Encoding.UTF8.GetString(body);
        var at = text.IndexOf("\"time\":\"2", StringComparison.Ordinal) + 8;
        return Encoding.UTF8.GetBytes(text[..at] + "1" + text[(at + 1)..]);
    }

    private static void SetBody(SqliteConnection db, long seq, byte[] body) =>
        AuditTrailFixture.Execute(db, "UPDATE audit_events SET body = $b WHERE seq = $s", ("$b", body), ("$s", seq));

    private static void SetRow(SqliteConnection db, long seq, byte[] body, byte[] hash) =>
        AuditTrailFixture.Execute(db, "UPDATE audit_events SET body = $b, hash = $h WHERE seq = $s", ("$b", body), ("$h", hash), ("$s", seq));
}
