using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "checkpoint_path",
                table: "attempts",
                type: "TEXT",
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
