using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Deployments : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "deployments",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    model_ref = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    model_name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    model_version = table.Column<int>(type: "INTEGER", nullable: false),
                    min_replicas = table.Column<int>(type: "INTEGER", nullable: false),
                    max_replicas = table.Column<int>(type: "INTEGER", nullable: false),
                    target_in_flight = table.Column<double>(type: "REAL", nullable: false),
                    cpu_cores = table.Column<double>(type: "REAL", nullable: false),
                    memory_gb = table.Column<double>(type: "REAL", nullable: false),
                    events_json = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_deployments", x => x.seq);
                });

            migrationBuilder.CreateIndex(
                name: "IX_deployments_tenant_id_name",
                table: "deployments",
                columns: new[] { "tenant_id", "name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_deployments_tenant_id_seq",
                table: "deployments",
                columns: new[] { "tenant_id", "seq" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "deployments");
        }
    }
}
