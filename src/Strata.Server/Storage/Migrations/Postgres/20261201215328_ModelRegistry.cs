using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ModelRegistry : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "output_model_version",
                table: "jobs",
                type: "character varying(80)",
                maxLength: 80,
                nullable: true);

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
                name: "model_aliases");

            migrationBuilder.DropTable(
                name: "model_versions");

            migrationBuilder.DropTable(
                name: "models");

            migrationBuilder.DropColumn(
                name: "output_model_version",
                table: "jobs");
        }
    }
}
