using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EnrolmentAndPasskeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "aaguid",
                table: "authenticators",
                type: "TEXT",
                maxLength: 36,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "backed_up",
                table: "authenticators",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<bool>(
                name: "backup_eligible",
                table: "authenticators",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<byte[]>(
                name: "credential_id",
                table: "authenticators",
                type: "BLOB",
                maxLength: 1023,
                nullable: true);

            migrationBuilder.AddColumn<byte[]>(
                name: "public_key",
                table: "authenticators",
                type: "BLOB",
                maxLength: 2048,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "transports",
                table: "authenticators",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "enrolment_links",
                columns: table => new
                {
                    hash = table.Column<byte[]>(type: "BLOB", maxLength: 32, nullable: false),
                    subject = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    expires_at = table.Column<long>(type: "INTEGER", nullable: false),
                    used_at = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_enrolment_links", x => x.hash);
                    table.ForeignKey(
                        name: "FK_enrolment_links_users_subject",
                        column: x => x.subject,
                        principalTable: "users",
                        principalColumn: "subject",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ux_authenticators_credential_id",
                table: "authenticators",
                column: "credential_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_enrolment_links_subject",
                table: "enrolment_links",
                column: "subject");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "enrolment_links");

            migrationBuilder.DropIndex(
                name: "ux_authenticators_credential_id",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "aaguid",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "backed_up",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "backup_eligible",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "credential_id",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "public_key",
                table: "authenticators");

            migrationBuilder.DropColumn(
                name: "transports",
                table: "authenticators");
        }
    }
}
