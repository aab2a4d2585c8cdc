using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class DeploymentCanary : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "canary_model_ref",
                table: "deployments",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "canary_model_version",
                table: "deployments",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "canary_weight",
                table: "deployments",
                type: "double precision",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "previous_model_version",
                table: "deployments",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "canary_model_ref",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "canary_model_version",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "canary_weight",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "previous_model_version",
                table: "deployments");
        }
    }
}
