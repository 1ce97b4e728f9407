using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SignInBackoff : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "last_failed_sign_in_at",
                table: "users",
                type: "bigint",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "last_failed_sign_in_at",
                table: "users");
        }
    }
}
