using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Users : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    subject = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    username = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    username_key = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    email = table.Column<string>(type: "TEXT", maxLength: 254, nullable: true),
                    email_key = table.Column<string>(type: "TEXT", maxLength: 254, nullable: true),
                    roles = table.Column<string>(type: "TEXT", maxLength: 2112, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    password_hash = table.Column<string>(type: "TEXT", maxLength: 160, nullable: true),
                    password_changed_at = table.Column<long>(type: "INTEGER", nullable: true),
                    failed_sign_ins = table.Column<int>(type: "INTEGER", nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    updated_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_users", x => x.subject);
                });

            migrationBuilder.CreateIndex(
                name: "ux_users_email_key",
                table: "users",
                column: "email_key",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ux_users_username_key",
                table: "users",
                column: "username_key",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "users");
        }
    }
}
