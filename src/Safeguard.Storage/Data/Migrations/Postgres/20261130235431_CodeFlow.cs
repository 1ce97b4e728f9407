using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class CodeFlow : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "redirect_uris",
                table: "clients",
                type: "character varying(20500)",
                maxLength: 20500,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateTable(
                name: "authorization_codes",
                columns: table => new
                {
                    code_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    payload = table.Column<string>(type: "character varying(16384)", maxLength: 16384, nullable: false),
                    expires_at = table.Column<long>(type: "bigint", nullable: false),
                    redeemed_at = table.Column<long>(type: "bigint", nullable: true),
                    issued_token_ids = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_authorization_codes", x => x.code_hash);
                });

            migrationBuilder.CreateTable(
                name: "authorization_requests",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    payload = table.Column<string>(type: "character varying(16384)", maxLength: 16384, nullable: false),
                    expires_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_authorization_requests", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "sessions",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    secret_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    subject = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    authenticated_at = table.Column<long>(type: "bigint", nullable: false),
                    amr = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    acr = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    created_at = table.Column<long>(type: "bigint", nullable: false),
                    last_seen_at = table.Column<long>(type: "bigint", nullable: false),
                    expires_at = table.Column<long>(type: "bigint", nullable: false),
                    ended_at = table.Column<long>(type: "bigint", nullable: true),
                    end_reason = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    source_ip = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    user_agent = table.Column<string>(type: "character varying(512)", maxLength: 512, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sessions", x => x.id);
                    table.ForeignKey(
                        name: "FK_sessions_users_subject",
                        column: x => x.subject,
                        principalTable: "users",
                        principalColumn: "subject",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_authorization_codes_expires_at",
                table: "authorization_codes",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_authorization_requests_expires_at",
                table: "authorization_requests",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_sessions_subject",
                table: "sessions",
                column: "subject");

            migrationBuilder.CreateIndex(
                name: "ux_sessions_secret_hash",
                table: "sessions",
                column: "secret_hash",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "authorization_codes");

            migrationBuilder.DropTable(
                name: "authorization_requests");

            migrationBuilder.DropTable(
                name: "sessions");

            migrationBuilder.DropColumn(
                name: "redirect_uris",
                table: "clients");
        }
    }
}
