using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AttemptClassification : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "classification",
                table: "attempts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "cpu_cores",
                table: "attempts",
                type: "REAL",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "decision",
                table: "attempts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "gpus",
                table: "attempts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "memory_bytes",
                table: "attempts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "outcome",
                table: "attempts",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "classification",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "cpu_cores",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "decision",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "gpus",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "memory_bytes",
                table: "attempts");

            migrationBuilder.DropColumn(
                name: "outcome",
                table: "attempts");
        }
    }
}
