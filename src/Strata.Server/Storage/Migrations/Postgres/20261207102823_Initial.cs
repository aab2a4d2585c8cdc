using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "artifacts",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: true),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    kind = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    size_bytes = table.Column<long>(type: "bigint", nullable: false),
                    sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    job_id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_artifacts", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "attempts",
                columns: table => new
                {
                    job_id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: false),
                    number = table.Column<int>(type: "integer", nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    exit_code = table.Column<int>(type: "integer", nullable: true),
                    reason = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    error_message = table.Column<string>(type: "text", nullable: true),
                    peak_memory_bytes = table.Column<long>(type: "bigint", nullable: true),
                    cpu_seconds = table.Column<double>(type: "double precision", nullable: true),
                    runtime_kind = table.Column<string>(type: "text", nullable: true),
                    runtime_name = table.Column<string>(type: "text", nullable: true),
                    runtime_namespace = table.Column<string>(type: "text", nullable: true),
                    wall_seconds = table.Column<double>(type: "double precision", nullable: true),
                    reserved_core_seconds = table.Column<double>(type: "double precision", nullable: true),
                    reserved_memory_gb_seconds = table.Column<double>(type: "double precision", nullable: true),
                    reserved_gpu_seconds = table.Column<double>(type: "double precision", nullable: true),
                    used_core_seconds = table.Column<double>(type: "double precision", nullable: true),
                    used_memory_gb_seconds = table.Column<double>(type: "double precision", nullable: true),
                    used_gpu_seconds = table.Column<double>(type: "double precision", nullable: true),
                    ended_at_unix_ms = table.Column<long>(type: "bigint", nullable: true),
                    log_metrics_pending = table.Column<bool>(type: "boolean", nullable: false),
                    log_metrics_offset = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_attempts", x => new { x.job_id, x.number });
                });

            migrationBuilder.CreateTable(
                name: "deployments",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    model_ref = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    model_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    model_version = table.Column<int>(type: "integer", nullable: false),
                    previous_model_version = table.Column<int>(type: "integer", nullable: true),
                    canary_model_ref = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    canary_model_version = table.Column<int>(type: "integer", nullable: true),
                    canary_weight = table.Column<double>(type: "double precision", nullable: true),
                    min_replicas = table.Column<int>(type: "integer", nullable: false),
                    max_replicas = table.Column<int>(type: "integer", nullable: false),
                    target_in_flight = table.Column<double>(type: "double precision", nullable: false),
                    cpu_cores = table.Column<double>(type: "double precision", nullable: false),
                    memory_gb = table.Column<double>(type: "double precision", nullable: false),
                    events_json = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_deployments", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "jobs",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: true),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    status_reason = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    priority = table.Column<int>(type: "integer", nullable: false),
                    cpu_cores = table.Column<double>(type: "double precision", nullable: false),
                    memory_bytes = table.Column<long>(type: "bigint", nullable: false),
                    gpus = table.Column<int>(type: "integer", nullable: false),
                    workers = table.Column<int>(type: "integer", nullable: false),
                    spec_json = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    not_before = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    error_message = table.Column<string>(type: "text", nullable: true),
                    attempt_count = table.Column<int>(type: "integer", nullable: false),
                    preemptions = table.Column<int>(type: "integer", nullable: false),
                    runtime_kind = table.Column<string>(type: "text", nullable: true),
                    runtime_name = table.Column<string>(type: "text", nullable: true),
                    runtime_namespace = table.Column<string>(type: "text", nullable: true),
                    measured_seconds = table.Column<double>(type: "double precision", nullable: false),
                    measured_cpu_seconds = table.Column<double>(type: "double precision", nullable: false),
                    measured_peak_memory_bytes = table.Column<long>(type: "bigint", nullable: true),
                    output_model_version = table.Column<string>(type: "character varying(80)", maxLength: 80, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_jobs", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "leases",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    holder = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    expires_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_leases", x => x.name);
                });

            migrationBuilder.CreateTable(
                name: "metric_series",
                columns: table => new
                {
                    job_id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: false),
                    name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: false),
                    step = table.Column<long>(type: "bigint", nullable: false),
                    time = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    count = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metric_series", x => new { x.job_id, x.name });
                });

            migrationBuilder.CreateTable(
                name: "metrics",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    job_id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: false),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    value = table.Column<double>(type: "double precision", nullable: false),
                    step = table.Column<long>(type: "bigint", nullable: false),
                    time = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_metrics", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "model_aliases",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    model_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    alias = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_model_aliases", x => new { x.tenant_id, x.model_name, x.alias });
                });

            migrationBuilder.CreateTable(
                name: "model_versions",
                columns: table => new
                {
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    model_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    format = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    uri = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    size_bytes = table.Column<long>(type: "bigint", nullable: false),
                    sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    metrics_json = table.Column<string>(type: "text", nullable: false),
                    input_schema_json = table.Column<string>(type: "text", nullable: true),
                    lineage_json = table.Column<string>(type: "text", nullable: false),
                    job_id = table.Column<string>(type: "character varying(36)", maxLength: 36, nullable: true),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    description = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_model_versions", x => new { x.tenant_id, x.model_name, x.version });
                });

            migrationBuilder.CreateTable(
                name: "models",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    description = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    latest_version = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_models", x => x.seq);
                });

            migrationBuilder.CreateTable(
                name: "tenants",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    cost_center = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    quota_cpu_cores = table.Column<double>(type: "double precision", nullable: true),
                    quota_memory_gb = table.Column<double>(type: "double precision", nullable: true),
                    quota_gpu_count = table.Column<int>(type: "integer", nullable: true),
                    quota_max_running_jobs = table.Column<int>(type: "integer", nullable: true),
                    quota_max_pending_jobs = table.Column<int>(type: "integer", nullable: true),
                    quota_max_deployments = table.Column<int>(type: "integer", nullable: true),
                    quota_max_replicas = table.Column<int>(type: "integer", nullable: true),
                    on_quota_exceeded = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true),
                    fair_share_weight = table.Column<double>(type: "double precision", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tenants", x => x.id);
                });

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
                name: "IX_attempts_ended_at_unix_ms",
                table: "attempts",
                column: "ended_at_unix_ms");

            migrationBuilder.CreateIndex(
                name: "IX_attempts_log_metrics_pending",
                table: "attempts",
                column: "log_metrics_pending",
                filter: "log_metrics_pending");

            migrationBuilder.CreateIndex(
                name: "IX_attempts_status",
                table: "attempts",
                column: "status");

            migrationBuilder.CreateIndex(
                name: "IX_attempts_tenant_id_ended_at_unix_ms",
                table: "attempts",
                columns: new[] { "tenant_id", "ended_at_unix_ms" });

            migrationBuilder.CreateIndex(
                name: "IX_deployments_tenant_id_name",
                table: "deployments",
                columns: new[] { "tenant_id", "name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_deployments_tenant_id_seq",
                table: "deployments",
                columns: new[] { "tenant_id", "seq" });

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

            migrationBuilder.CreateIndex(
                name: "IX_metrics_job_id_name_seq",
                table: "metrics",
                columns: new[] { "job_id", "name", "seq" });

            migrationBuilder.CreateIndex(
                name: "IX_metrics_job_id_seq",
                table: "metrics",
                columns: new[] { "job_id", "seq" });

            migrationBuilder.CreateIndex(
                name: "IX_model_versions_job_id",
                table: "model_versions",
                column: "job_id",
                unique: true,
                filter: "source = 'trainer'");

            migrationBuilder.CreateIndex(
                name: "IX_models_tenant_id_name",
                table: "models",
                columns: new[] { "tenant_id", "name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_models_tenant_id_seq",
                table: "models",
                columns: new[] { "tenant_id", "seq" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "artifacts");

            migrationBuilder.DropTable(
                name: "attempts");

            migrationBuilder.DropTable(
                name: "deployments");

            migrationBuilder.DropTable(
                name: "jobs");

            migrationBuilder.DropTable(
                name: "leases");

            migrationBuilder.DropTable(
                name: "metric_series");

            migrationBuilder.DropTable(
                name: "metrics");

            migrationBuilder.DropTable(
                name: "model_aliases");

            migrationBuilder.DropTable(
                name: "model_versions");

            migrationBuilder.DropTable(
                name: "models");

            migrationBuilder.DropTable(
                name: "tenants");
        }
    }
}
