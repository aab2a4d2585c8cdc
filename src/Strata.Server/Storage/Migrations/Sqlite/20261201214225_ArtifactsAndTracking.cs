using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ArtifactsAndTracking : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "log_metrics_offset",
                table: "attempts",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<bool>(
                name: "log_metrics_pending",
                table: "attempts",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "artifacts",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: true),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    kind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    size_bytes = table.Column<long>(type: "INTEGER", nullable: false),
                    sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    job_id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_artifacts", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "metric_series",
                columns: table => new
                {
                    job_id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    value = table.Column<double>(type: "REAL", nullable: false),
                    step = table.Column<long>(type: "INTEGER", nullable: false),
                    time = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    count = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_series", x => new { x.job_id, x.name });
                });

            migrationBuilder.CreateTable(
                name: "metrics",
                columns: table => new
                {
                    seq = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    job_id = table.Column<string>(type: "TEXT", maxLength: 36, nullable: false),
                    tenant_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    value = table.Column<double>(type: "REAL", nullable: false),
                    step = table.Column<long>(type: "INTEGER", nullable: false),
                    time = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metrics", x => x.seq);
                });

            migrationBuilder.CreateIndex(
                name: "IX_attempts_log_metrics_pending",
                table: "attempts",
                column: "log_metrics_pending",
                filter: "log_metrics_pending");

            migrationBuilder.CreateIndex(
                name: "IX_artifacts_id",
                table: "artifacts",
                column: "id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_artifacts_tenant_id_seq",
                table: "artifacts",
                columns: new[] { "tenant_id", "seq" });

            migrationBuilder.CreateIndex(
                name: "IX_metrics_job_id_name_seq",
                table: "metrics",
                columns: new[] { "job_id", "name", "seq" });

            migrationBuilder.CreateIndex(
                name: "IX_metrics_job_id_seq",
                table: "metrics",
                columns: new[] { "job_id", "seq" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "artifacts");

            migrationBuilder.DropTable(
                name: "metric_series");

            migrationBuilder.DropTable(
                name: "metrics");

            migrationBuilder.DropIndex(
                name: "IX_attempts_log_metrics_pending",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "log_metrics_offset",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "log_metrics_pending",
                table: "attempts");
        }
    }
}
