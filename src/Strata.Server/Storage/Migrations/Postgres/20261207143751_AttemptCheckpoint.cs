using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class AttemptCheckpoint : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "checkpoint_modified_at",
                table: "attempts",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "checkpoint_path",
                table: "attempts",
                type: "character varying(1024)",
                maxLength: 1024,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "checkpoint_modified_at",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "checkpoint_path",
                table: "attempts");
        }
    }
}
