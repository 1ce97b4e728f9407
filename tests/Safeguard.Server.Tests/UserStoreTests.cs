using Npgsql;
using Safeguard.Clients;
using Safeguard.Hosting;
using Safeguard.Storage.Data;
using Safeguard.Users;

namespace Safeguard.Server.Tests;

/// <summary>The user store on SQLite and on a real PostgreSQL (as the application role a node serves with).</summary>
public sealed class UserStoreTests : IAsyncLifetime
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("sg-users-");
    private PostgresDatabase? _postgres;
    private SafeguardDatabase? _sqlite;
    private SafeguardDatabase? _pg;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresDatabase.CreateAsync();
        _sqlite = SafeguardDatabase.Open(new DatabaseOptions(), SafeguardDataFolder.At(_folder.FullName));
        await _sqlite.MigrateAsync(CancellationToken.None);
        _pg = SafeguardDatabase.Open(new DatabaseOptions { Provider = DatabaseProvider.PostgreSql, ConnectionString = _postgres.ConnectionString }, SafeguardDataFolder.At(_folder.FullName));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task AUserIsFoundBySubjectAndByUsernameWithoutRegardToCase(string provider)
    {
        var store = new EfUserStore(Database(provider));
        var user = NewUser("JSmith", "j.smith@clinic.example", ["clinician"]);

        await store.AddAsync(user, CancellationToken.None);

        var found = await store.FindBySubjectAsync(user.Subject, CancellationToken.None);
        Assert.NotNull(found);
        Assert.Equal(user with { Roles = found.Roles }, found);
        Assert.Equal(user.Roles, found.Roles);
        Assert.Equal(user.Subject, (await store.FindByUsernameAsync("jsmith", CancellationToken.None))?.Subject);
        Assert.Null(await store.FindByUsernameAsync("jsmith2", CancellationToken.None));
        Assert.Single(await store.GetAllAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task UsernamesAndEmails_AreUnique_AndATakenOneWritesNothing(string provider)
    {
        var store = new EfUserStore(Database(provider));
        await store.AddAsync(NewUser("nlee", "n.lee@clinic.example", []), CancellationToken.None);

        var name = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AddAsync(NewUser("NLEE", null, []), CancellationToken.None));
        var email = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AddAsync(NewUser("other", "N.Lee@Clinic.Example", []), CancellationToken.None));

        Assert.Contains("is taken", name.Message, StringComparison.Ordinal);
        Assert.Contains("belongs to another user", email.Message, StringComparison.Ordinal);
        Assert.Single(await store.GetAllAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ASubjectEqualToAClientId_IsRefused(string provider)
    {
        var database = Database(provider);
        var subject = UserSubjects.New();
        var now = TimeProvider.System.GetUtcNow();
        // Registration refuses such ids; the store refuses them too, whatever reached the table.
        await new EfClientStore(database).AddAsync(new Client { ClientId = subject, AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic, GrantTypes = [GrantTypes.ClientCredentials], Enabled = true, CreatedAt = now, UpdatedAt = now }, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => new EfUserStore(database).AddAsync(NewUser("clash", null, []) with { Subject = subject }, CancellationToken.None));

        Assert.Contains("never equals a client's", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task OfTwoConcurrentChanges_ExactlyOneWins(string provider)
    {
        var store = new EfUserStore(Database(provider));
        var user = NewUser("mchen", null, ["nurse"]);
        await store.AddAsync(user, CancellationToken.None);
        var later = user.UpdatedAt.AddSeconds(1);

        var first = await store.UpdateAsync(user with { Status = UserStatus.Disabled, UpdatedAt = later }, user.UpdatedAt, CancellationToken.None);
        var second = await store.UpdateAsync(user with { Roles = ["admin"], UpdatedAt = later.AddSeconds(1) }, user.UpdatedAt, CancellationToken.None);

        Assert.True(first);
        Assert.False(second);
        var stored = await store.FindBySubjectAsync(user.Subject, CancellationToken.None);
        Assert.Equal(UserStatus.Disabled, stored!.Status);
        Assert.Equal(["nurse"], stored.Roles);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task AnAuthenticatorUse_IsSingle_EvenWhenTwoArriveAtOnce(string provider)
    {
        var database = Database(provider);
        var user = NewUser("totp.user", null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var store = new EfAuthenticatorStore(database);
        var authenticator = new Authenticator { Id = "a-" + Guid.NewGuid().ToString("N")[..8], Subject = user.Subject, Kind = AuthenticatorKind.Totp, ProtectedSecret = [1, 2, 3], CreatedAt = user.CreatedAt };
        await store.AddAsync([authenticator], CancellationToken.None);
        var now = TimeProvider.System.GetUtcNow();

        var uses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.TryUseAsync(authenticator.Id, 57_000_000, now, CancellationToken.None)));
        var earlier = await store.TryUseAsync(authenticator.Id, 56_999_999, now, CancellationToken.None);
        var later = await store.TryUseAsync(authenticator.Id, 57_000_001, now, CancellationToken.None);

        Assert.Equal(1, uses.Count(u => u));
        Assert.False(earlier);
        Assert.True(later);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task FailuresAreCounted_ResetByAUse_AndAResetRemovesEveryFactor(string provider)
    {
        var database = Database(provider);
        var user = NewUser("mfa.user", null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var store = new EfAuthenticatorStore(database);
        var ids = new[] { "f-" + Guid.NewGuid().ToString("N")[..8], "f-" + Guid.NewGuid().ToString("N")[..8] };
        await store.AddAsync([.. ids.Select(id => new Authenticator { Id = id, Subject = user.Subject, Kind = AuthenticatorKind.RecoveryCode, SecretHash = new byte[32], CreatedAt = user.CreatedAt })], CancellationToken.None);

        Assert.Equal(1, await store.RecordFailureAsync(ids, CancellationToken.None));
        Assert.Equal(2, await store.RecordFailureAsync(ids, CancellationToken.None));
        Assert.True(await store.TryUseAsync(ids[0], 1, TimeProvider.System.GetUtcNow(), CancellationToken.None));
        var stored = await store.GetForUserAsync(user.Subject, CancellationToken.None);
        Assert.Equal(0, stored.Single(a => a.Id == ids[0]).Failures);
        Assert.Equal(2, stored.Single(a => a.Id == ids[1]).Failures);

        Assert.Equal(2, await store.RemoveAllAsync(user.Subject, CancellationToken.None));
        Assert.Empty(await store.GetForUserAsync(user.Subject, CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ConcurrentSignInFailuresAllCount_AndTheLimitLocksTheUser(string provider)
    {
        var store = new EfUserStore(Database(provider));
        var user = NewUser("many.failures", null, []);
        await store.AddAsync(user, CancellationToken.None);
        var at = TimeProvider.System.GetUtcNow();

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => store.RecordSignInFailureAsync(user.Subject, at, 10, CancellationToken.None)));

        Assert.Equal(Enumerable.Range(1, 10), results.Select(r => r.FailedSignIns).Order());
        var stored = await store.FindBySubjectAsync(user.Subject, CancellationToken.None);
        Assert.Equal(10, stored!.FailedSignIns);
        Assert.Equal(UserStatus.Locked, stored.Status);
        Assert.Equal(at.ToUnixTimeMilliseconds(), stored.LastFailedSignInAt?.ToUnixTimeMilliseconds());

        await store.ResetSignInFailuresAsync(user.Subject, CancellationToken.None);
        stored = await store.FindBySubjectAsync(user.Subject, CancellationToken.None);
        Assert.Equal(0, stored!.FailedSignIns);
        Assert.Null(stored.LastFailedSignInAt);
        Assert.Equal(UserStatus.Locked, stored.Status); // only an administrator unlocks
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ARehash_NeverUndoesAPasswordChange(string provider)
    {
        var store = new EfUserStore(Database(provider));
        var user = NewUser("rehash", null, []) with { PasswordHash = "$argon2id$old" };
        await store.AddAsync(user, CancellationToken.None);

        Assert.True(await store.RehashPasswordAsync(user.Subject, "$argon2id$old", "$argon2id$stronger", CancellationToken.None));
        Assert.False(await store.RehashPasswordAsync(user.Subject, "$argon2id$old", "$argon2id$other", CancellationToken.None));
        Assert.Equal("$argon2id$stronger", (await store.FindBySubjectAsync(user.Subject, CancellationToken.None))!.PasswordHash);
    }

    [Fact]
    public async Task OnPostgres_TheApplicationRoleCannotDeleteAUser()
    {
        await new EfUserStore(_pg!).AddAsync(NewUser("kept", null, []), CancellationToken.None);

        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var delete = new NpgsqlCommand("DELETE FROM users", connection);
        var denied = await Assert.ThrowsAsync<PostgresException>(() => delete.ExecuteNonQueryAsync());

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task EnrolmentLinks_AreSpentOnce_AndANewOneReplacesTheUnspent(string provider)
    {
        var database = Database(provider);
        var user = NewUser("enrol-" + provider, null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var store = new EfEnrolmentLinkStore(database);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var first = new EnrolmentLink { Hash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), Subject = user.Subject, CreatedAt = now, ExpiresAt = now.AddHours(1) };
        var second = first with { Hash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32) };

        await store.AddAsync(first, CancellationToken.None);
        var found = await store.FindAsync(first.Hash, CancellationToken.None);
        Assert.NotNull(found);
        Assert.Equal(first, found with { Hash = first.Hash });
        await store.AddAsync(second, CancellationToken.None);
        Assert.Null(await store.FindAsync(first.Hash, CancellationToken.None));

        Assert.False(await store.TryUseAsync(second.Hash, now.AddHours(1), CancellationToken.None)); // expired by then
        var uses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.TryUseAsync(second.Hash, now.AddMinutes(1), CancellationToken.None)));
        Assert.Single(uses, used => used);
        Assert.Equal(now.AddMinutes(1), (await store.FindAsync(second.Hash, CancellationToken.None))!.UsedAt);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Passkeys_AreFoundByCredentialId_AndTheirCounterOnlyRises(string provider)
    {
        var database = Database(provider);
        var user = NewUser("passkey-" + provider, null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var store = new EfAuthenticatorStore(database);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var passkey = new Authenticator
        {
            Id = "pk" + Guid.NewGuid().ToString("N")[..20],
            Subject = user.Subject,
            Kind = AuthenticatorKind.Passkey,
            Name = "Passkey",
            CredentialId = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16),
            PublicKey = [0xA5, 0x01, 0x02],
            Aaguid = Guid.NewGuid(),
            BackupEligible = true,
            Transports = "internal hybrid",
            Counter = 5,
            CreatedAt = now,
        };
        await store.AddAsync([passkey], CancellationToken.None);
        await Assert.ThrowsAnyAsync<Exception>(() => store.AddAsync([passkey with { Id = "pk" + Guid.NewGuid().ToString("N")[..20] }], CancellationToken.None)); // credential ids are unique

        var found = await store.FindByCredentialIdAsync(passkey.CredentialId, CancellationToken.None);
        Assert.NotNull(found);
        Assert.Equal(passkey.Aaguid, found.Aaguid);
        Assert.Equal(AuthenticatorKind.Passkey, found.Kind);
        Assert.Equal(passkey.PublicKey, found.PublicKey);
        Assert.Equal("internal hybrid", found.Transports);
        Assert.False(await store.TryUsePasskeyAsync(passkey.Id, 5, backedUp: true, now, CancellationToken.None));
        Assert.True(await store.TryUsePasskeyAsync(passkey.Id, 6, backedUp: true, now, CancellationToken.None));
        Assert.True((await store.FindByCredentialIdAsync(passkey.CredentialId, CancellationToken.None))!.BackedUp);
        Assert.True(await store.RemoveAsync(user.Subject, passkey.Id, CancellationToken.None));
        Assert.Null(await store.FindByCredentialIdAsync(passkey.CredentialId, CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ARefreshTokenRotates_OnceAcrossConcurrentUses_AndRotationsOfDifferentTokensShareCommits(string provider)
    {
        var database = Database(provider);
        var user = NewUser("rotate-" + provider, null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var session = NewSession(user.Subject, now);
        var sessions = new EfSessionStore(database);
        await sessions.AddAsync(session, CancellationToken.None);
        await using var store = new EfRefreshTokenStore(database);
        Safeguard.Authorization.RefreshToken Token(string family) => new()
        {
            TokenHash = Guid.NewGuid().ToString("N"),
            FamilyId = family,
            ClientId = "chart-app",
            Subject = user.Subject,
            SessionId = session.Id,
            AuthenticatedAt = now,
            CreatedAt = now,
            ExpiresAt = now.AddHours(12),
        };

        var first = Token("family-1");
        await store.AddAsync(first, CancellationToken.None);
        var replacements = Enumerable.Range(0, 8).Select(_ => Token("family-1")).ToList();
        var later = now.AddMinutes(1);
        var outcomes = await Task.WhenAll(replacements.Select(r => store.RotateAsync(first.TokenHash, later, session.Id, r, CancellationToken.None)));

        Assert.Single(outcomes, rotated => rotated);
        var winner = replacements[Array.IndexOf(outcomes, true)];
        Assert.NotNull(await store.FindAsync(winner.TokenHash, CancellationToken.None));
        foreach (var loser in replacements.Where(r => r != winner))
        {
            Assert.Null(await store.FindAsync(loser.TokenHash, CancellationToken.None));
        }

        Assert.Equal(later, (await store.FindAsync(first.TokenHash, CancellationToken.None))!.UsedAt);
        Assert.Equal(later, (await sessions.FindAsync(session.Id, CancellationToken.None))!.LastSeenAt);

        // Many different tokens at once: every one rotates (they may share commits), and a revoked one does not.
        var many = Enumerable.Range(0, 50).Select(i => Token("family-m" + i)).ToList();
        foreach (var token in many)
        {
            await store.AddAsync(token, CancellationToken.None);
        }

        await store.RevokeFamilyAsync(session.Id, "family-m0", later, CancellationToken.None);
        var rotations = await Task.WhenAll(many.Select(t => store.RotateAsync(t.TokenHash, later.AddSeconds(1), session.Id, Token(t.FamilyId), CancellationToken.None)));
        Assert.False(rotations[0]);
        Assert.All(rotations.Skip(1), Assert.True);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ExpiredRefreshTokensArePurged_AndAFamilyIsRevokedWithinItsSession(string provider)
    {
        var database = Database(provider);
        await using var store = new EfRefreshTokenStore(database);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var session = "p" + Guid.NewGuid().ToString("N")[..20];
        Safeguard.Authorization.RefreshToken Token(string family, DateTimeOffset expires) => new()
        {
            TokenHash = Guid.NewGuid().ToString("N"), FamilyId = family, ClientId = "chart-app", Subject = "usr_purge", SessionId = session,
            AuthenticatedAt = now, CreatedAt = now, ExpiresAt = expires,
        };
        var expired = Enumerable.Range(0, 1500).Select(i => Token("old-" + (i % 3), now.AddDays(-2))).ToList();
        var live = new[] { Token("live", now.AddHours(1)), Token("live", now.AddHours(1)), Token("other", now.AddHours(1)) };
        foreach (var token in expired.Concat(live))
        {
            await store.AddAsync(token, CancellationToken.None);
        }

        Assert.True(await store.PurgeExpiredAsync(now.AddDays(-1), CancellationToken.None) >= 1500);
        Assert.Null(await store.FindAsync(expired[0].TokenHash, CancellationToken.None));
        Assert.Null(await store.FindAsync(expired[^1].TokenHash, CancellationToken.None));

        Assert.Equal(2, await store.RevokeFamilyAsync(session, "live", now, CancellationToken.None));
        Assert.Equal(0, await store.RevokeFamilyAsync("another-session", "other", now, CancellationToken.None));
        Assert.NotNull((await store.FindAsync(live[0].TokenHash, CancellationToken.None))!.RevokedAt);
        Assert.Null((await store.FindAsync(live[2].TokenHash, CancellationToken.None))!.RevokedAt);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ARefreshFindsTheToken_ItsSessionAndItsUser_InOneRead(string provider)
    {
        var database = Database(provider);
        var users = new EfUserStore(database);
        var user = NewUser("use-" + provider, "use-" + provider + "@clinic.example", ["clinician", "nurse"]);
        await users.AddAsync(user, CancellationToken.None);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var session = NewSession(user.Subject, now) with { LastSeenAt = now.AddMinutes(1), Acr = "urn:safeguard:aal2", Amr = ["pwd", "otp"] };
        var sessions = new EfSessionStore(database);
        await sessions.AddAsync(session, CancellationToken.None);
        await using var store = new EfRefreshTokenStore(database);
        var token = new Safeguard.Authorization.RefreshToken
        {
            TokenHash = Guid.NewGuid().ToString("N"), FamilyId = "family-use", ClientId = "chart-app", Subject = user.Subject, SessionId = session.Id,
            Scopes = ["openid", "patient.read"], AuthenticatedAt = now, CreatedAt = now, ExpiresAt = now.AddHours(12),
        };
        await store.AddAsync(token, CancellationToken.None);
        var orphan = token with { TokenHash = Guid.NewGuid().ToString("N"), SessionId = "gone-" + Guid.NewGuid().ToString("N")[..8] };
        await store.AddAsync(orphan, CancellationToken.None);

        var found = await store.FindForUseAsync(token.TokenHash, CancellationToken.None);

        Assert.NotNull(found);
        Assert.Equal(token.Scopes, found.Token.Scopes);
        Assert.Null(found.Token.UsedAt);
        Assert.Equal((session.Id, session.LastSeenAt, session.Acr, (string?)null), (found.Session!.Id, found.Session.LastSeenAt, found.Session.Acr, found.Session.EndReason));
        Assert.Equal(session.Amr, found.Session.Amr);
        var expected = (await users.FindBySubjectAsync(user.Subject, CancellationToken.None))!;
        Assert.Equal(expected with { Roles = found.User!.Roles }, found.User);
        Assert.Equal(user.Roles, found.User.Roles);

        // What a refresh must notice: a used token, an ended session, a missing session, an unknown token.
        Assert.True(await store.RotateAsync(token.TokenHash, now.AddMinutes(2), session.Id, null, CancellationToken.None));
        Assert.True(await sessions.EndAsync(session.Id, "logout", now.AddMinutes(3), CancellationToken.None));
        var after = await store.FindForUseAsync(token.TokenHash, CancellationToken.None);
        Assert.Equal(now.AddMinutes(2), after!.Token.UsedAt);
        Assert.Equal(now.AddMinutes(3), after.Session!.EndedAt);
        var lonely = await store.FindForUseAsync(orphan.TokenHash, CancellationToken.None);
        Assert.Null(lonely!.Session);
        Assert.Null(lonely.User);
        Assert.Null(await store.FindForUseAsync("no-such-hash", CancellationToken.None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task ASessionRecordsEachClientGivenACode_Once(string provider)
    {
        var database = Database(provider);
        var user = NewUser("clients-" + provider, null, []);
        await new EfUserStore(database).AddAsync(user, CancellationToken.None);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var sessions = new EfSessionStore(database);
        var id = "c" + Guid.NewGuid().ToString("N")[..20];
        await sessions.AddAsync(new Safeguard.Sessions.UserSession
        {
            Id = id,
            SecretHash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
            Subject = user.Subject,
            AuthenticatedAt = now,
            CreatedAt = now,
            LastSeenAt = now,
            ExpiresAt = now.AddHours(12),
        }, CancellationToken.None);

        await sessions.AddClientAsync(id, "chart-app", CancellationToken.None);
        await sessions.AddClientAsync(id, "chart", CancellationToken.None); // a prefix of the first is another client
        await sessions.AddClientAsync(id, "chart-app", CancellationToken.None);

        Assert.Equal(["chart-app", "chart"], (await sessions.FindAsync(id, CancellationToken.None))!.ClientIds);
        Assert.Equal(["chart-app", "chart"], Assert.Single(await sessions.GetActiveForUserAsync(user.Subject, CancellationToken.None)).ClientIds);
    }

    public async Task DisposeAsync()
    {
        _sqlite?.Dispose();
        _pg?.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task TheRevocationFeed_ReadsRevokedTokensEndedSessionsAndDisabledUsers_AfterItsCursor(string provider)
    {
        var database = Database(provider);
        var start = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var users = new EfUserStore(database);
        var disabled = NewUser("feed-disabled-" + provider, null, []);
        var active = NewUser("feed-active-" + provider, null, []);
        await users.AddAsync(disabled, CancellationToken.None);
        await users.AddAsync(active, CancellationToken.None);
        Assert.True(await users.UpdateAsync(disabled with { Status = UserStatus.Disabled, UpdatedAt = start.AddMilliseconds(3) }, disabled.UpdatedAt, CancellationToken.None));
        var sessions = new EfSessionStore(database);
        var session = NewSession(active.Subject, start);
        var sid = session.Id;
        await sessions.AddAsync(session, CancellationToken.None);
        Assert.True(await sessions.EndAsync(sid, "logout", start.AddMilliseconds(2), CancellationToken.None));
        var jti = "j" + Guid.NewGuid().ToString("N");
        await new EfRevocationStore(database).RevokeAsync(new Safeguard.Tokens.RevokedToken(jti, "app", start.AddMilliseconds(1), start.AddMinutes(5)), CancellationToken.None);

        var feed = new EfRevocationFeedSource(database);
        var entries = (await feed.ReadSinceAsync(start, 100, CancellationToken.None)).Where(e => e.Value == jti || e.Value == sid || e.Value == disabled.Subject || e.Value == active.Subject).ToList();

        Assert.Equal(
            [(Safeguard.Tokens.RevocationKind.TokenId, jti, 1), (Safeguard.Tokens.RevocationKind.Session, sid, 2), (Safeguard.Tokens.RevocationKind.Subject, disabled.Subject, 3)],
            entries.Select(e => (e.Kind, e.Value, (int)(e.At - start).TotalMilliseconds)));
        Assert.DoesNotContain(await feed.ReadSinceAsync(start.AddMilliseconds(3), 100, CancellationToken.None), e => e.Value == jti || e.Value == sid || e.Value == disabled.Subject);
    }

    [Fact]
    public async Task OnPostgreSql_EveryKindOfRevocation_IsPushedAtItsCommit_AndALostListenerListensAgain()
    {
        var database = _pg!;
        using var pushes = new PostgresRevocationNotifications(database);
        await ListeningAsync(pushes);
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        var users = new EfUserStore(database);
        var user = NewUser("pushed-" + Guid.NewGuid().ToString("N")[..8], null, []);
        await users.AddAsync(user, CancellationToken.None);
        var sessions = new EfSessionStore(database);
        var session = NewSession(user.Subject, now);
        var sid = session.Id;
        await sessions.AddAsync(session, CancellationToken.None);
        var clients = new EfClientStore(database);
        var clientId = "pushed-client-" + Guid.NewGuid().ToString("N")[..8];
        await clients.AddAsync(new Client { ClientId = clientId, AuthenticationMethod = ClientAuthenticationMethods.ClientSecretBasic, GrantTypes = [GrantTypes.ClientCredentials], Enabled = true, CreatedAt = now, UpdatedAt = now }, CancellationToken.None);
        var keys = new EfSigningKeyStore(database);
        var key = new Safeguard.Keys.StoredSigningKey { KeyId = "k" + Guid.NewGuid().ToString("N"), Algorithm = "ES256", CreatedAt = now, ActivatesAt = now, PublicKey = [1], ProtectedPrivateKey = [2] };
        await keys.AddAsync(key, CancellationToken.None);

        // Ordinary writes to the same tables push nothing.
        await QuietAsync(pushes, () => sessions.TouchAsync(sid, now.AddSeconds(1), CancellationToken.None));
        await QuietAsync(pushes, () => users.UpdateAsync(user with { Email = "moved@clinic.example", UpdatedAt = now.AddSeconds(1) }, user.UpdatedAt, CancellationToken.None));

        await PushedAsync(pushes, () => new EfRevocationStore(database).RevokeAsync(new Safeguard.Tokens.RevokedToken("j" + Guid.NewGuid().ToString("N"), "app", now, now.AddMinutes(5)), CancellationToken.None));
        await PushedAsync(pushes, () => sessions.EndAsync(sid, "logout", now.AddSeconds(2), CancellationToken.None));
        await PushedAsync(pushes, () => users.UpdateAsync(user with { Email = "moved@clinic.example", Status = UserStatus.Disabled, UpdatedAt = now.AddSeconds(2) }, now.AddSeconds(1), CancellationToken.None));
        await PushedAsync(pushes, () => clients.DisableAsync(clientId, now.AddSeconds(2), CancellationToken.None));
        await PushedAsync(pushes, () => keys.UpdateAsync(key with { RevokedAt = now.AddSeconds(2) }, CancellationToken.None));

        // The listener's connection is killed: it says so (a push may have been missed), listens again, and pushes again.
        var lost = pushes.WhenChanged();
        await using (var admin = new NpgsqlConnection(_postgres!.ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'safeguard-revocation-feed' AND datname = current_database()", admin);
            Assert.Equal(1L, (long)(await kill.ExecuteScalarAsync())!);
        }

        await lost.WaitAsync(TimeSpan.FromSeconds(30));
        await ListeningAsync(pushes);
        await PushedAsync(pushes, () => new EfRevocationStore(database).RevokeAsync(new Safeguard.Tokens.RevokedToken("j" + Guid.NewGuid().ToString("N"), "app", now, now.AddMinutes(5)), CancellationToken.None));
    }

    [Fact]
    public async Task OnSqlite_NothingIsPushed_SoTheFeedPolls()
    {
        using var pushes = new PostgresRevocationNotifications(_sqlite!);
        var next = pushes.WhenChanged();
        await new EfRevocationStore(_sqlite!).RevokeAsync(new Safeguard.Tokens.RevokedToken("j" + Guid.NewGuid().ToString("N"), "app", TimeProvider.System.GetUtcNow(), TimeProvider.System.GetUtcNow().AddMinutes(5)), CancellationToken.None);
        await Task.Delay(300);
        Assert.False(pushes.IsListening);
        Assert.False(next.IsCompleted);
    }

    private static async Task ListeningAsync(PostgresRevocationNotifications pushes)
    {
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (!pushes.IsListening)
        {
            Assert.True(TimeProvider.System.GetUtcNow() < deadline, "the listener did not start listening within 30 s");
            await pushes.WhenChanged().WaitAsync(TimeSpan.FromSeconds(1)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task PushedAsync(PostgresRevocationNotifications pushes, Func<Task> revoke)
    {
        var next = pushes.WhenChanged();
        await revoke();
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }

    private static async Task QuietAsync(PostgresRevocationNotifications pushes, Func<Task> write)
    {
        var next = pushes.WhenChanged();
        await write();
        await Task.Delay(300);
        Assert.False(next.IsCompleted, "an ordinary write pushed a revocation notice");
    }

    private SafeguardDatabase Database(string provider) => provider == "sqlite" ? _sqlite! : _pg!;

    private static Safeguard.Sessions.UserSession NewSession(string subject, DateTimeOffset now) => new()
    {
        Id = "s" + Guid.NewGuid().ToString("N")[..20],
        SecretHash = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
        Subject = subject,
        AuthenticatedAt = now,
        CreatedAt = now,
        LastSeenAt = now,
        ExpiresAt = now.AddHours(12),
    };

    private static User NewUser(string username, string? email, string[] roles)
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds());
        return new User { Subject = UserSubjects.New(), Username = username, Email = email, Roles = roles, CreatedAt = now, UpdatedAt = now, PasswordHash = null };
    }
}
