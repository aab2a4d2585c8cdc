using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class JobReferences : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_jobs_tenant_id_id",
                table: "jobs",
                columns: new[] { "tenant_id", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_tenant_id_name_id",
                table: "jobs",
                columns: new[] { "tenant_id", "name", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jobs_tenant_id_id",
                table: "jobs");

            migrationBuilder.DropIndex(
                name: "IX_jobs_tenant_id_name_id",
                table: "jobs");
        }
    }
}
