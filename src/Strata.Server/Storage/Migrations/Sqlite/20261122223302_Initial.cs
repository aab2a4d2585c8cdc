using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "attempts",
                columns: table => new
                {
                    job_id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: false),
                    number = table.Column<int>(type: "INTEGER", nullable: false),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    completed_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    exit_code = table.Column<int>(type: "INTEGER", nullable: true),
                    reason = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    error_message = table.Column<string>(type: "TEXT", nullable: true),
                    peak_memory_bytes = table.Column<long>(type: "INTEGER", nullable: true),
                    cpu_seconds = table.Column<double>(type: "REAL", nullable: true),
                    runtime_kind = table.Column<string>(type: "TEXT", nullable: true),
                    runtime_name = table.Column<string>(type: "TEXT", nullable: true),
                    runtime_namespace = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_attempts", x => new { x.job_id, x.number });
                });

            migrationBuilder.CreateTable(
                name: "jobs",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: true),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    status_reason = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    priority = table.Column<int>(type: "INTEGER", nullable: false),
                    cpu_cores = table.Column<double>(type: "REAL", nullable: false),
                    memory_bytes = table.Column<long>(type: "INTEGER", nullable: false),
                    gpus = table.Column<int>(type: "INTEGER", nullable: false),
                    workers = table.Column<int>(type: "INTEGER", nullable: false),
                    spec_json = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    completed_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    not_before = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    error_message = table.Column<string>(type: "TEXT", nullable: true),
                    attempt_count = table.Column<int>(type: "INTEGER", nullable: false),
                    runtime_kind = table.Column<string>(type: "TEXT", nullable: true),
                    runtime_name = table.Column<string>(type: "TEXT", nullable: true),
                    runtime_namespace = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_jobs", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "tenants",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    cost_center = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tenants", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_attempts_status",
                table: "attempts",
                column: "status");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_id",
                table: "jobs",
                column: "id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_jobs_status",
                table: "jobs",
                column: "status");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_tenant_id_name",
                table: "jobs",
                columns: new[] { "tenant_id", "name" },
                unique: true,
                filter: "status IN ('pending', 'running')");

            migrationBuilder.CreateIndex(
                name: "IX_jobs_tenant_id_seq",
                table: "jobs",
                columns: new[] { "tenant_id", "seq" });

            migrationBuilder.CreateIndex(
                name: "IX_jobs_tenant_id_status_seq",
                table: "jobs",
                columns: new[] { "tenant_id", "status", "seq" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "attempts");

            migrationBuilder.DropTable(
                name: "jobs");

            migrationBuilder.DropTable(
                name: "tenants");
        }
    }
}
