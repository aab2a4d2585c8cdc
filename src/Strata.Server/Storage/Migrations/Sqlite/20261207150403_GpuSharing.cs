using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class GpuSharing : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "gpu_fraction",
                table: "jobs",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "gpu_type",
                table: "jobs",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "measured_gpu_seconds",
                table: "jobs",
                type: "REAL",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<double>(
                name: "measured_gpu_used_seconds",
                table: "jobs",
                type: "REAL",
                nullable: false,
                defaultValue: 0.0);

            migrationBuilder.AddColumn<long>(
                name: "gpu_peak_memory_mb",
                table: "attempts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "gpu_utilization_percent",
                table: "attempts",
                type: "REAL",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "gpu_fraction",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "gpu_type",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "measured_gpu_seconds",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "measured_gpu_used_seconds",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "gpu_peak_memory_mb",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "gpu_utilization_percent",
                table: "attempts");
        }
    }
}
