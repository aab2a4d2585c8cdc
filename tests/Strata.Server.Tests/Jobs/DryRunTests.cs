using System.Net.Http.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>
/// <c>POST /v1/jobs/training?dry_run=true</c>: everything a submission checks, before anything is uploaded, and nothing
/// created or held. <see cref="ArtifactUri.ToBeUploaded"/> stands for what the client will upload.
/// </summary>
public sealed class DryRunTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task A_dry_run_answers_as_a_submission_would_and_creates_nothing()
    {
        var (tenant, client) = await app.TenantClientAsync("dry");
        using var _ = client;
        using (var admin = app.AdminClient())
        using (var quota = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { cpu_cores = 2, memory_gb = 4 }))
        {
            await Http.ExpectAsync(quota, 200);
        }
        var trainer = new { name = "churn", model = "lightgbm", label = "churned", data_path = ArtifactUri.ToBeUploaded, compute = new { cpu_cores = 1, memory_gb = 1 } };

        using (var fine = await client.PostAsJsonAsync("/v1/jobs/training?dry_run=true", trainer))
        {
            var answer = await Http.ExpectAsync(fine, 200);
            Assert.Equal("lightgbm", answer.GetProperty("spec").GetProperty("model").GetString());
            Assert.False(answer.GetProperty("would_wait_for_quota").GetBoolean());
        }
        // A misspelt hyperparameter, a quota too small for the job: refused as a submission would be.
        using (var typo = await client.PostAsJsonAsync("/v1/jobs/training?dry_run=true",
            new { trainer.name, trainer.model, trainer.label, trainer.data_path, hyperparameters = new { num_leave = 15 } }))
        {
            await Http.ExpectValidationAsync(typo, "hyperparameters.num_leave");
        }
        var holder = (await StrataApp.SubmitAsync(client, new { name = "holder", entrypoint = "sleep 300", compute = new { cpu_cores = 2, memory_gb = 1 } }))
            .GetProperty("id").GetString()!;
        using (var full = await client.PostAsJsonAsync("/v1/jobs/training?dry_run=true", trainer))
        {
            var problem = await Http.ExpectProblemAsync(full, 429, ProblemTypes.QuotaExceeded);
            Assert.Equal("cpu_cores", problem.GetProperty("resource").GetString());
        }
        using (var queued = await client.PostAsJsonAsync("/v1/jobs/training?dry_run=true",
            new { trainer.name, trainer.model, trainer.label, trainer.data_path, on_quota_exceeded = "queue" }))
        {
            Assert.True((await Http.ExpectAsync(queued, 200)).GetProperty("would_wait_for_quota").GetBoolean());
        }
        using (var bad = await client.PostAsJsonAsync("/v1/jobs/training?dry_run=yes", trainer)) await Http.ExpectValidationAsync(bad, "dry_run");

        // Nothing was created by any of them, and a real submission may not name the artifact to be uploaded.
        using (var list = await client.GetAsync("/v1/jobs/training"))
        {
            Assert.Equal([holder], (await Http.ExpectAsync(list, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()));
        }
        using (var real = await client.DeleteAsync($"/v1/jobs/training/{holder}")) Assert.True(real.IsSuccessStatusCode);
        using (var real = await client.PostAsJsonAsync("/v1/jobs/training", trainer)) await Http.ExpectValidationAsync(real, "data_path");
    }

    [Fact]
    public async Task A_dry_run_does_not_see_another_tenants_artifact()
    {
        var (_, owner) = await app.TenantClientAsync("dry-owner");
        var (_, other) = await app.TenantClientAsync("dry-other");
        using var _o = owner;
        using var _t = other;
        using var content = new ByteArrayContent("a,b\n1,2\n"u8.ToArray());
        using var uploaded = await owner.PostAsync("/v1/artifacts?name=data.csv", content);
        var uri = (await Http.ExpectAsync(uploaded, 201)).GetProperty("uri").GetString();

        using var dry = await other.PostAsJsonAsync("/v1/jobs/training?dry_run=true", new { name = "steal", model = "lightgbm", label = "b", data_path = uri });
        await Http.ExpectValidationAsync(dry, "data_path");
    }
}
