using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ClientRequirePar : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "require_par",
                table: "clients",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "require_par",
                table: "clients");
        }
    }
}
