using Microsoft.EntityFrameworkCore;

namespace Safeguard.Storage.Data;

/// <summary>
/// The server's relational state: clients, users, signing keys (encrypted), revoked token ids and replay caches. One model,
/// two providers; each provider has its own context type so each has its own migrations. The audit trail is not
/// here: it is an append-only store of its own (<see cref="Audit.SqliteAuditStore"/>, <see cref="Audit.PostgresAuditStore"/>).
/// </summary>
public abstract class SafeguardDbContext : DbContext
{
    /// <summary>Creates the context.</summary>
    /// <param name="options">The provider options.</param>
    protected SafeguardDbContext(DbContextOptions options)
        : base(options)
    {
    }

    /// <summary>Registered clients.</summary>
    public DbSet<ClientEntity> Clients => Set<ClientEntity>();

    /// <summary>Token signing keys.</summary>
    public DbSet<SigningKeyEntity> SigningKeys => Set<SigningKeyEntity>();

    /// <summary>Revoked access-token ids.</summary>
    public DbSet<RevokedTokenEntity> RevokedTokens => Set<RevokedTokenEntity>();

    /// <summary>One-time values seen.</summary>
    public DbSet<ReplayEntity> ReplayEntries => Set<ReplayEntity>();

    /// <summary>People who sign in.</summary>
    public DbSet<UserEntity> Users => Set<UserEntity>();

    /// <summary>Users' second factors.</summary>
    public DbSet<AuthenticatorEntity> Authenticators => Set<AuthenticatorEntity>();

    /// <summary>Sign-in sessions.</summary>
    public DbSet<SessionEntity> Sessions => Set<SessionEntity>();

    /// <summary>Pending authorization requests.</summary>
    public DbSet<AuthorizationRequestEntity> AuthorizationRequests => Set<AuthorizationRequestEntity>();

    /// <summary>Authorization codes (hashed).</summary>
    public DbSet<AuthorizationCodeEntity> AuthorizationCodes => Set<AuthorizationCodeEntity>();

    /// <summary>Refresh tokens (hashed).</summary>
    public DbSet<RefreshTokenEntity> RefreshTokens => Set<RefreshTokenEntity>();

    /// <summary>Enrolment links (hashed).</summary>
    public DbSet<EnrolmentLinkEntity> EnrolmentLinks => Set<EnrolmentLinkEntity>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<ClientEntity>(client =>
        {
            client.ToTable("clients");
            client.HasKey(c => c.ClientId);
            client.Property(c => c.ClientId).HasColumnName("client_id").HasMaxLength(64);
            client.Property(c => c.AuthenticationMethod).HasColumnName("auth_method").HasMaxLength(32);
            client.Property(c => c.GrantTypes).HasColumnName("grant_types").HasMaxLength(256);
            client.Property(c => c.AllowedScopes).HasColumnName("allowed_scopes").HasMaxLength(4096);
            client.Property(c => c.AllowedResources).HasColumnName("allowed_resources").HasMaxLength(4096);
            client.Property(c => c.SecretHash).HasColumnName("secret_hash");
            client.Property(c => c.Jwks).HasColumnName("jwks");
            client.Property(c => c.CertificateThumbprint).HasColumnName("certificate_thumbprint").HasMaxLength(64);
            client.Property(c => c.CertificateSubject).HasColumnName("certificate_subject").HasMaxLength(1024);
            client.Property(c => c.RequireDpop).HasColumnName("require_dpop");
            client.Property(c => c.RequirePushedAuthorizationRequests).HasColumnName("require_par");
            client.Property(c => c.BackchannelLogoutUri).HasColumnName("backchannel_logout_uri").HasMaxLength(2048);
            client.Property(c => c.IntrospectionResources).HasColumnName("introspection_resources").HasMaxLength(4096);
            client.Property(c => c.RedirectUris).HasColumnName("redirect_uris").HasMaxLength(20500).HasDefaultValue(string.Empty);
            client.Property(c => c.Enabled).HasColumnName("enabled");
            client.Property(c => c.CreatedAt).HasColumnName("created_at");
            client.Property(c => c.UpdatedAt).HasColumnName("updated_at");
            client.HasIndex(c => c.UpdatedAt).HasDatabaseName("ix_clients_updated_at");
        });

        modelBuilder.Entity<SigningKeyEntity>(key =>
        {
            key.ToTable("signing_keys");
            key.HasKey(k => k.KeyId);
            key.Property(k => k.KeyId).HasColumnName("key_id").HasMaxLength(128);
            key.Property(k => k.Algorithm).HasColumnName("algorithm").HasMaxLength(16);
            key.Property(k => k.CreatedAt).HasColumnName("created_at");
            key.Property(k => k.ActivatesAt).HasColumnName("activates_at");
            key.Property(k => k.RetiresAt).HasColumnName("retires_at");
            key.Property(k => k.RevokedAt).HasColumnName("revoked_at");
            key.Property(k => k.PublicKey).HasColumnName("public_key");
            key.Property(k => k.ProtectedPrivateKey).HasColumnName("protected_private_key");
        });

        modelBuilder.Entity<RevokedTokenEntity>(revoked =>
        {
            revoked.ToTable("revoked_tokens");
            revoked.HasKey(r => r.TokenId);
            revoked.Property(r => r.TokenId).HasColumnName("token_id").HasMaxLength(64);
            revoked.Property(r => r.ClientId).HasColumnName("client_id").HasMaxLength(64);
            revoked.Property(r => r.RevokedAt).HasColumnName("revoked_at");
            revoked.Property(r => r.ExpiresAt).HasColumnName("expires_at");
            revoked.HasIndex(r => r.RevokedAt).HasDatabaseName("ix_revoked_tokens_revoked_at");
            revoked.HasIndex(r => r.ExpiresAt).HasDatabaseName("ix_revoked_tokens_expires_at");
        });

        modelBuilder.Entity<ReplayEntity>(replay =>
        {
            replay.ToTable("replay_entries");
            replay.HasKey(r => new { r.Purpose, r.ValueHash });
            replay.Property(r => r.Purpose).HasColumnName("purpose").HasMaxLength(32);
            replay.Property(r => r.ValueHash).HasColumnName("value_hash").HasMaxLength(64);
            replay.Property(r => r.ExpiresAt).HasColumnName("expires_at");
            replay.HasIndex(r => r.ExpiresAt).HasDatabaseName("ix_replay_entries_expires_at");
        });

        modelBuilder.Entity<UserEntity>(user =>
        {
            user.ToTable("users");
            user.HasKey(u => u.Subject);
            user.Property(u => u.Subject).HasColumnName("subject").HasMaxLength(64);
            user.Property(u => u.Username).HasColumnName("username").HasMaxLength(64);
            user.Property(u => u.UsernameKey).HasColumnName("username_key").HasMaxLength(64);
            user.Property(u => u.Email).HasColumnName("email").HasMaxLength(254);
            user.Property(u => u.EmailKey).HasColumnName("email_key").HasMaxLength(254);
            user.Property(u => u.Roles).HasColumnName("roles").HasMaxLength(2112);
            user.Property(u => u.Status).HasColumnName("status").HasMaxLength(16);
            user.Property(u => u.PasswordHash).HasColumnName("password_hash").HasMaxLength(160);
            user.Property(u => u.PasswordChangedAt).HasColumnName("password_changed_at");
            user.Property(u => u.FailedSignIns).HasColumnName("failed_sign_ins");
            user.Property(u => u.LastFailedSignInAt).HasColumnName("last_failed_sign_in_at");
            user.Property(u => u.CreatedAt).HasColumnName("created_at");
            user.Property(u => u.UpdatedAt).HasColumnName("updated_at");
            user.HasIndex(u => u.UsernameKey).IsUnique().HasDatabaseName("ux_users_username_key");
            user.HasIndex(u => u.EmailKey).IsUnique().HasDatabaseName("ux_users_email_key");
            user.HasIndex(u => u.UpdatedAt).HasDatabaseName("ix_users_updated_at");
        });

        modelBuilder.Entity<AuthenticatorEntity>(authenticator =>
        {
            authenticator.ToTable("authenticators");
            authenticator.HasKey(a => a.Id);
            authenticator.Property(a => a.Id).HasColumnName("id").HasMaxLength(32);
            authenticator.Property(a => a.Subject).HasColumnName("subject").HasMaxLength(64);
            authenticator.Property(a => a.Kind).HasColumnName("kind").HasMaxLength(16);
            authenticator.Property(a => a.Name).HasColumnName("name").HasMaxLength(64);
            authenticator.Property(a => a.ProtectedSecret).HasColumnName("protected_secret");
            authenticator.Property(a => a.SecretHash).HasColumnName("secret_hash");
            authenticator.Property(a => a.CredentialId).HasColumnName("credential_id").HasMaxLength(1023);
            authenticator.Property(a => a.PublicKey).HasColumnName("public_key").HasMaxLength(2048);
            authenticator.Property(a => a.Aaguid).HasColumnName("aaguid").HasMaxLength(36);
            authenticator.Property(a => a.BackupEligible).HasColumnName("backup_eligible");
            authenticator.Property(a => a.BackedUp).HasColumnName("backed_up");
            authenticator.Property(a => a.Transports).HasColumnName("transports").HasMaxLength(128);
            authenticator.HasIndex(a => a.CredentialId).IsUnique().HasDatabaseName("ux_authenticators_credential_id");
            authenticator.Property(a => a.Counter).HasColumnName("counter");
            authenticator.Property(a => a.Failures).HasColumnName("failures");
            authenticator.Property(a => a.CreatedAt).HasColumnName("created_at");
            authenticator.Property(a => a.LastUsedAt).HasColumnName("last_used_at");
            authenticator.HasIndex(a => a.Subject).HasDatabaseName("ix_authenticators_subject");
            authenticator.HasOne<UserEntity>().WithMany().HasForeignKey(a => a.Subject).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<EnrolmentLinkEntity>(link =>
        {
            link.ToTable("enrolment_links");
            link.HasKey(l => l.Hash);
            link.Property(l => l.Hash).HasColumnName("hash").HasMaxLength(32);
            link.Property(l => l.Subject).HasColumnName("subject").HasMaxLength(64);
            link.Property(l => l.CreatedAt).HasColumnName("created_at");
            link.Property(l => l.ExpiresAt).HasColumnName("expires_at");
            link.Property(l => l.UsedAt).HasColumnName("used_at");
            link.HasIndex(l => l.Subject).HasDatabaseName("ix_enrolment_links_subject");
            link.HasOne<UserEntity>().WithMany().HasForeignKey(l => l.Subject).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<SessionEntity>(session =>
        {
            session.ToTable("sessions");
            session.Property(x => x.ClientIds).HasColumnName("client_ids").HasMaxLength(4096).HasDefaultValue(string.Empty);
            session.HasKey(x => x.Id);
            session.Property(x => x.Id).HasColumnName("id").HasMaxLength(32);
            session.Property(x => x.SecretHash).HasColumnName("secret_hash");
            session.Property(x => x.Subject).HasColumnName("subject").HasMaxLength(64);
            session.Property(x => x.AuthenticatedAt).HasColumnName("authenticated_at");
            session.Property(x => x.Amr).HasColumnName("amr").HasMaxLength(256);
            session.Property(x => x.Acr).HasColumnName("acr").HasMaxLength(256);
            session.Property(x => x.CreatedAt).HasColumnName("created_at");
            session.Property(x => x.LastSeenAt).HasColumnName("last_seen_at");
            session.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            session.Property(x => x.EndedAt).HasColumnName("ended_at");
            session.Property(x => x.EndReason).HasColumnName("end_reason").HasMaxLength(32);
            session.Property(x => x.SourceIp).HasColumnName("source_ip").HasMaxLength(64);
            session.Property(x => x.UserAgent).HasColumnName("user_agent").HasMaxLength(512);
            session.HasIndex(x => x.SecretHash).IsUnique().HasDatabaseName("ux_sessions_secret_hash");
            session.HasIndex(x => x.Subject).HasDatabaseName("ix_sessions_subject");
            session.HasIndex(x => x.EndedAt).HasDatabaseName("ix_sessions_ended_at");
            session.HasOne<UserEntity>().WithMany().HasForeignKey(x => x.Subject).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<AuthorizationRequestEntity>(request =>
        {
            request.ToTable("authorization_requests");
            request.HasKey(x => x.Id);
            request.Property(x => x.Id).HasColumnName("id").HasMaxLength(32);
            request.Property(x => x.Payload).HasColumnName("payload").HasMaxLength(16384);
            request.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            request.HasIndex(x => x.ExpiresAt).HasDatabaseName("ix_authorization_requests_expires_at");
        });

        modelBuilder.Entity<AuthorizationCodeEntity>(code =>
        {
            code.ToTable("authorization_codes");
            code.HasKey(x => x.CodeHash);
            code.Property(x => x.CodeHash).HasColumnName("code_hash").HasMaxLength(64);
            code.Property(x => x.Payload).HasColumnName("payload").HasMaxLength(16384);
            code.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            code.Property(x => x.RedeemedAt).HasColumnName("redeemed_at");
            code.Property(x => x.IssuedTokenIds).HasColumnName("issued_token_ids").HasMaxLength(1024);
            code.HasIndex(x => x.ExpiresAt).HasDatabaseName("ix_authorization_codes_expires_at");
        });

        modelBuilder.Entity<RefreshTokenEntity>(token =>
        {
            token.ToTable("refresh_tokens");
            token.HasKey(x => x.TokenHash);
            token.Property(x => x.TokenHash).HasColumnName("token_hash").HasMaxLength(64);
            token.Property(x => x.FamilyId).HasColumnName("family_id").HasMaxLength(32);
            token.Property(x => x.SessionId).HasColumnName("session_id").HasMaxLength(32);
            token.Property(x => x.Payload).HasColumnName("payload").HasMaxLength(16384);
            token.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            token.Property(x => x.UsedAt).HasColumnName("used_at");
            token.Property(x => x.RevokedAt).HasColumnName("revoked_at");
            // One secondary index, by session then family: a rotation inserts a row, and each index is one more page
            // written at a random place (docs/performance.md). Revoking a family names its session too; the hourly
            // purge of expired rows scans.
            token.HasIndex(x => new { x.SessionId, x.FamilyId }).HasDatabaseName("ix_refresh_tokens_session_family");
        });
    }
}

/// <summary>The SQLite flavour (its own migrations).</summary>
/// <param name="options">The provider options.</param>
public sealed class SqliteSafeguardDbContext(DbContextOptions<SqliteSafeguardDbContext> options) : SafeguardDbContext(options);

/// <summary>The PostgreSQL flavour (its own migrations).</summary>
/// <param name="options">The provider options.</param>
public sealed class PostgresSafeguardDbContext(DbContextOptions<PostgresSafeguardDbContext> options) : SafeguardDbContext(options);
