using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Usage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "measured_cpu_seconds",
                table: "jobs",
                type: "REAL",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<long>(
                name: "measured_peak_memory_bytes",
                table: "jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "measured_seconds",
                table: "jobs",
                type: "REAL",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<long>(
                name: "ended_at_unix_ms",
                table: "attempts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "reserved_core_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "reserved_gpu_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "reserved_memory_gb_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "used_core_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "used_gpu_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "used_memory_gb_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "wall_seconds",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_attempts_ended_at_unix_ms",
                table: "attempts",
                column: "ended_at_unix_ms");

            migrationBuilder.CreateIndex(
                name: "IX_attempts_tenant_id_ended_at_unix_ms",
                table: "attempts",
                columns: new[] { "tenant_id", "ended_at_unix_ms" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_attempts_ended_at_unix_ms",
                table: "attempts");

            migrationBuilder.DropIndex(
                name: "IX_attempts_tenant_id_ended_at_unix_ms",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "measured_cpu_seconds",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "measured_peak_memory_bytes",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "measured_seconds",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "ended_at_unix_ms",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "reserved_core_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "reserved_gpu_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "reserved_memory_gb_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "used_core_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "used_gpu_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "used_memory_gb_seconds",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "wall_seconds",
                table: "attempts");
        }
    }
}
