using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ReplicaUsage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "replica_usage",
                columns: table => new
                {
                    seq = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    tenant_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    deployment_name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false),
                    replica_id = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    model_version = table.Column<int>(type: "integer", nullable: false),
                    started_at_unix_ms = table.Column<long>(type: "bigint", nullable: false),
                    ended_at_unix_ms = table.Column<long>(type: "bigint", nullable: false),
                    reserved_core_seconds = table.Column<double>(type: "double precision", nullable: false),
                    reserved_memory_gb_seconds = table.Column<double>(type: "double precision", nullable: false),
                    used_core_seconds = table.Column<double>(type: "double precision", nullable: false),
                    used_memory_gb_seconds = table.Column<double>(type: "double precision", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_replica_usage", x => x.seq);
                });

            migrationBuilder.CreateIndex(
                name: "IX_replica_usage_ended_at_unix_ms",
                table: "replica_usage",
                column: "ended_at_unix_ms");

            migrationBuilder.CreateIndex(
                name: "IX_replica_usage_tenant_id_ended_at_unix_ms",
                table: "replica_usage",
                columns: new[] { "tenant_id", "ended_at_unix_ms" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "replica_usage");
        }
    }
}
