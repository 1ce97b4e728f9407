using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Safeguard.Storage.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ClientCertificateSubject : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "certificate_subject",
                table: "clients",
                type: "character varying(1024)",
                maxLength: 1024,
                nullable: true);

            // Clients registered with a pinned certificate before tls_client_auth meant the PKI method.
            migrationBuilder.Sql("UPDATE clients SET auth_method = 'self_signed_tls_client_auth' WHERE auth_method = 'tls_client_auth' AND certificate_thumbprint IS NOT NULL;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "certificate_subject",
                table: "clients");
        }
    }
}
