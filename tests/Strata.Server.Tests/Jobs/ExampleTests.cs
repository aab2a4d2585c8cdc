using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>The README's examples run as documented.</summary>
public sealed class ExampleTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task The_custom_churn_script_reports_metrics_per_epoch_and_writes_its_model()
    {
        var (tenant, client) = await app.TenantClientAsync("example");
        using var _ = client;
        var data = Path.Combine(app.DataPath, "artifacts", tenant, "churn.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        File.Copy(RepositoryFile("examples/churn/churn.csv"), data);

        // As `strata run` does it: the script travels as the job's code (the sandbox shows a job nothing else of this
        // machine). It imports strata.job, which the local runtime puts on every job's PYTHONPATH.
        var code = await Artifacts.ArtifactApiTests<SqliteApp>.UploadAsync(client,
            TestArchives.Create([TestEntry.File("train.py", File.ReadAllText(RepositoryFile("examples/churn/train.py")))]), "code.tar.gz");
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "churn-custom", entrypoint = "python3 train.py", data_path = "churn.csv", code_artifact = code.GetProperty("uri").GetString(),
            hyperparameters = new { epochs = 2 },
        });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(2));

        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var text = await logs.Content.ReadAsStringAsync();
        Assert.Contains("STRATA_METRIC {\"name\": \"auc\", \"value\": ", text, StringComparison.Ordinal);
        Assert.Contains("\"step\": 2}", text, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(done.GetProperty("spec").GetProperty("model_output_path").GetString()!, "model.json")));
    }

    private static string RepositoryFile(string relative)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return Path.Combine(directory!.FullName, relative);
    }
}
