using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class TenantIncarnation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deleting_since",
                table: "tenants",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "uid",
                table: "tenants",
                type: "character varying(32)",
                maxLength: 32,
                nullable: false,
                defaultValue: "");

            // Tenants made before incarnations: each gets one of its own (32 hex digits, as TenantRecord.NewUid).
            // Tokens issued before carry none and are refused; the tenant's owner or an admin issues new ones.
            migrationBuilder.Sql("UPDATE tenants SET uid = md5(random()::text || clock_timestamp()::text || id) WHERE uid = '';");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "deleting_since",
                table: "tenants");

            migrationBuilder.DropColumn(
                name: "uid",
                table: "tenants");
        }
    }
}
