using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Quotas : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "fair_share_weight",
                table: "tenants",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "on_quota_exceeded",
                table: "tenants",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "quota_cpu_cores",
                table: "tenants",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "quota_gpu_count",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "quota_max_deployments",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "quota_max_pending_jobs",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "quota_max_replicas",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "quota_max_running_jobs",
                table: "tenants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "quota_memory_gb",
                table: "tenants",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "preemptions",
                table: "jobs",
                type: "integer",
                nullable: false,
                defaultValue: 0);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "fair_share_weight",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "on_quota_exceeded",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_cpu_cores",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_gpu_count",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_max_deployments",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_max_pending_jobs",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_max_replicas",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_max_running_jobs",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "quota_memory_gb",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "preemptions",
                table: "jobs");
        }
    }
}
