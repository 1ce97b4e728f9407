using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class RevocationFeedIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_users_updated_at",
                table: "users",
                column: "updated_at");

            migrationBuilder.CreateIndex(
                name: "ix_sessions_ended_at",
                table: "sessions",
                column: "ended_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_users_updated_at",
                table: "users");

            migrationBuilder.DropIndex(
                name: "ix_sessions_ended_at",
                table: "sessions");
        }
    }
}
