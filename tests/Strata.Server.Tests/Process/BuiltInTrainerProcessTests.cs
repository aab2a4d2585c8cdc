using System.Text.Json;

namespace Strata.Server.Tests.Process;

/// <summary>`strata train` as the built server runs it: a real server process, a real strata-worker train process.</summary>
[Collection(ServerProcessCollection.Name)]
public sealed class BuiltInTrainerProcessTests
{
    [Fact]
    public async Task A_built_in_trainer_job_trains_and_registers_a_version_with_its_metrics()
    {
        using var server = new ServerProcess();
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-train");
        // The server's working directory is its default data root: the data lies there, as a user's would.
        var data = Path.Combine(server.Root, "churn.csv");
        File.Copy(Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv"), data);

        var job = await api.SubmitAsync($$$"""
            {"name":"churn","model":"lightgbm","label":"churned","data_path":{{{JsonSerializer.Serialize(data)}}},
             "compute":{"cpu_cores":1,"memory_gb":1},"hyperparameters":{"num_leaves":15,"learning_rate":0.05}}
            """);
        var id = job.GetProperty("id").GetString()!;
        var done = await api.WaitForStatusAsync(id, "succeeded");

        Assert.Equal("churn@1", done.GetProperty("output").GetProperty("model_version").GetString());
        var version = await api.GetJsonAsync("/v1/models/churn/versions/latest");
        Assert.Equal(1, version.GetProperty("version").GetInt32());
        Assert.True(version.GetProperty("metrics").GetProperty("auc").GetDouble() >= 0.8, version.ToString());
        Assert.Equal(id, version.GetProperty("lineage").GetProperty("job_id").GetString());
        Assert.Equal(data, version.GetProperty("lineage").GetProperty("data_path").GetString());
        Assert.True(File.Exists(version.GetProperty("uri").GetString()));
        var log = File.ReadAllText(Path.Combine(server.AttemptFolder("team-train", id, 1), "output.log"));
        Assert.Contains("STRATA_METRIC {\"name\":\"auc\"", log, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
