using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Postgres
{
    /// <summary>
    /// Triggers that <c>NOTIFY safeguard_revocations</c> when a transaction revokes a token, ends a session, disables a
    /// user or client or revokes a signing key, so every node's revocation feed wakes at the commit
    /// (<see cref="PostgresRevocationNotifications"/>) instead of at its next poll.
    /// </summary>
    public partial class RevocationFeedNotify : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE FUNCTION safeguard_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('safeguard_revocations', TG_TABLE_NAME);
                    RETURN NULL;
                END
                $$;

                CREATE TRIGGER revoked_tokens_notify AFTER INSERT ON revoked_tokens
                    FOR EACH STATEMENT EXECUTE FUNCTION safeguard_notify_revocation();

                CREATE TRIGGER sessions_notify AFTER UPDATE OF ended_at ON sessions
                    FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL AND OLD.ended_at IS DISTINCT FROM NEW.ended_at)
                    EXECUTE FUNCTION safeguard_notify_revocation();

                CREATE TRIGGER users_notify AFTER UPDATE ON users
                    FOR EACH ROW WHEN (NEW.status NOT IN ('active', 'locked') AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.updated_at IS DISTINCT FROM NEW.updated_at))
                    EXECUTE FUNCTION safeguard_notify_revocation();

                CREATE TRIGGER clients_notify AFTER UPDATE ON clients
                    FOR EACH ROW WHEN (NOT NEW.enabled AND (OLD.enabled OR OLD.updated_at IS DISTINCT FROM NEW.updated_at))
                    EXECUTE FUNCTION safeguard_notify_revocation();

                CREATE TRIGGER signing_keys_notify AFTER UPDATE OF revoked_at ON signing_keys
                    FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
                    EXECUTE FUNCTION safeguard_notify_revocation();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS revoked_tokens_notify ON revoked_tokens;
                DROP TRIGGER IF EXISTS sessions_notify ON sessions;
                DROP TRIGGER IF EXISTS users_notify ON users;
                DROP TRIGGER IF EXISTS clients_notify ON clients;
                DROP TRIGGER IF EXISTS signing_keys_notify ON signing_keys;
                DROP FUNCTION IF EXISTS safeguard_notify_revocation();
                """);
        }
    }
}
