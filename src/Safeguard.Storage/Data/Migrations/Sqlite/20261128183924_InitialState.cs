using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class InitialState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "clients",
                columns: table => new
                {
                    client_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    auth_method = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    grant_types = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    allowed_scopes = table.Column<string>(type: "TEXT", maxLength: 4096, nullable: false),
                    allowed_resources = table.Column<string>(type: "TEXT", maxLength: 4096, nullable: false),
                    secret_hash = table.Column<byte[]>(type: "BLOB", nullable: true),
                    jwks = table.Column<string>(type: "TEXT", nullable: true),
                    certificate_thumbprint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    require_dpop = table.Column<bool>(type: "INTEGER", nullable: false),
                    introspection_resources = table.Column<string>(type: "TEXT", maxLength: 4096, nullable: false),
                    enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    updated_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_clients", x => x.client_id);
                });

            migrationBuilder.CreateTable(
                name: "replay_entries",
                columns: table => new
                {
                    purpose = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    value_hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    expires_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_replay_entries", x => new { x.purpose, x.value_hash });
                });

            migrationBuilder.CreateTable(
                name: "revoked_tokens",
                columns: table => new
                {
                    token_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    client_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    revoked_at = table.Column<long>(type: "INTEGER", nullable: false),
                    expires_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_revoked_tokens", x => x.token_id);
                });

            migrationBuilder.CreateTable(
                name: "signing_keys",
                columns: table => new
                {
                    key_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    algorithm = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    activates_at = table.Column<long>(type: "INTEGER", nullable: false),
                    retires_at = table.Column<long>(type: "INTEGER", nullable: true),
                    revoked_at = table.Column<long>(type: "INTEGER", nullable: true),
                    public_key = table.Column<byte[]>(type: "BLOB", nullable: false),
                    protected_private_key = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_signing_keys", x => x.key_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_clients_updated_at",
                table: "clients",
                column: "updated_at");

            migrationBuilder.CreateIndex(
                name: "ix_replay_entries_expires_at",
                table: "replay_entries",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_revoked_tokens_expires_at",
                table: "revoked_tokens",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_revoked_tokens_revoked_at",
                table: "revoked_tokens",
                column: "revoked_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "clients");

            migrationBuilder.DropTable(
                name: "replay_entries");

            migrationBuilder.DropTable(
                name: "revoked_tokens");

            migrationBuilder.DropTable(
                name: "signing_keys");
        }
    }
}
