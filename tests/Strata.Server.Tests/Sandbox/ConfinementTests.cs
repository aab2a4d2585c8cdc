using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Sandbox;

/// <summary>
/// A tenant's job reaches its own artifact area and the configured data roots, never the server's
/// secrets or another tenant's area (DESIGN.md, "Tenancy and security").
/// </summary>
public sealed class ConfinementTests(DataFolderInsideDataRootApp app) : IClassFixture<DataFolderInsideDataRootApp>
{
    [Theory]
    [InlineData("data_path", "signing-key")]
    [InlineData("data_path", "admin-token")]
    [InlineData("data_path", "strata.db")]
    [InlineData("data_path", "artifacts/{other}/jobs")]
    [InlineData("model_output_path", "artifacts/{other}/stolen")]
    [InlineData("data_path", "checkpoints")]
    public async Task A_path_into_the_data_folder_outside_the_tenants_own_area_is_refused_even_inside_a_data_root(string field, string relative)
    {
        var other = await app.CreateTenantAsync(StrataApp.UniqueId("victim"));
        var (_, client) = await app.TenantClientAsync("intruder");
        using var _ = client;
        var path = Path.Combine(app.DataPath, relative.Replace("{other}", other, StringComparison.Ordinal));
        var body = $"{{\"name\":\"peek\",\"entrypoint\":\"true\",\"{field}\":\"{path}\"}}";

        using var response = await client.PostRawAsync("/v1/jobs/training", body);
        await Http.ExpectValidationAsync(response, field);
    }

    [Fact]
    public async Task A_path_inside_a_data_root_outside_the_data_folder_is_accepted()
    {
        var (_, client) = await app.TenantClientAsync("reader");
        using var _ = client;
        var path = Path.Combine(Path.GetDirectoryName(app.DataPath)!, "shared-datasets", "churn.csv");
        var job = await StrataApp.SubmitAsync(client, new { name = "shared", entrypoint = "true", data_path = path });
        Assert.Equal(path, job.GetProperty("spec").GetProperty("data_path").GetString());
        await StrataApp.WaitForEndAsync(client, job.GetProperty("id").GetString()!);
    }

    [Fact]
    public async Task A_job_cannot_read_the_servers_signing_key()
    {
        var (_, client) = await app.TenantClientAsync("escalate");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "escalate",
            entrypoint = "cat \"$STRATA_CHECKPOINT_DIR/../../signing-key\" || true; cat \"$HOME/../../admin-token\" || true",
        });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForEndAsync(client, id);
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Convert.ToBase64String(app.SigningKey), output, StringComparison.Ordinal);
        Assert.DoesNotContain(app.AdminToken, output, StringComparison.Ordinal);
    }
}
