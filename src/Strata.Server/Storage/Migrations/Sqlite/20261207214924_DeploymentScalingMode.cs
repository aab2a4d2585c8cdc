using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Strata.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DeploymentScalingMode : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Deployments made before scaling modes were sized by requests in flight; each gets the defaults a new
            // one gets (ScalingModes.InFlight, ScalingModes.DefaultTargetCpuPercent) rather than the type's empty values.
            migrationBuilder.AddColumn<string>(
                name: "scaling_mode",
                table: "deployments",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "in_flight");

            migrationBuilder.AddColumn<int>(
                name: "target_cpu_percent",
                table: "deployments",
                type: "INTEGER",
                nullable: false,
                defaultValue: 70);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "scaling_mode",
                table: "deployments");

            migrationBuilder.DropColumn(
                name: "target_cpu_percent",
                table: "deployments");
        }
    }
}
