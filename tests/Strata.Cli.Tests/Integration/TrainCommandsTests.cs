using System.Text.Json;
using Strata.Cli.Commands;

namespace Strata.Cli.Tests.Integration;

/// <summary>`strata train` and `strata models` against the server, with the built-in trainer really running.</summary>
public sealed class TrainCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Train_with_wait_prints_the_finished_job_and_the_model_is_registered()
    {
        var cli = await server.TenantMemberAsync("team-train");
        // A file on the user's machine, which the CLI uploads: the job trains on the artifact.
        var folder = Directory.CreateTempSubdirectory("strata-train-");
        var data = Path.Combine(folder.FullName, "churn.csv");
        File.Copy(Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv"), data);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(data)));

        var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--hp", "num_leaves=15", "--wait", "--output", "json");

        Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        using (var job = JsonDocument.Parse(train.Out))
        {
            Assert.Equal("succeeded", job.RootElement.GetProperty("status").GetString());
            Assert.Equal("churn", job.RootElement.GetProperty("spec").GetProperty("name").GetString());
            Assert.Equal("churn@1", job.RootElement.GetProperty("output").GetProperty("model_version").GetString());
            Assert.True(job.RootElement.TryGetProperty("metrics", out _));
        }

        var get = await cli.RunAsync("models", "get", "churn", "latest", "-o", "json");
        using (var version = JsonDocument.Parse(get.Out))
        {
            Assert.True(version.RootElement.GetProperty("metrics").GetProperty("auc").GetDouble() >= 0.8, get.Out);
            var lineage = version.RootElement.GetProperty("lineage");
            Assert.Equal(15, lineage.GetProperty("hyperparameters").GetProperty("num_leaves").GetInt32());
            Assert.StartsWith("artifact://", lineage.GetProperty("data_path").GetString(), StringComparison.Ordinal);
            Assert.Equal(sha256, lineage.GetProperty("data_sha256").GetString());
        }

        var alias = await cli.RunAsync("models", "alias", "churn", "production", "1");
        Assert.True(alias.ExitCode == ExitCodes.Success, alias.ToString());
        var list = await cli.RunAsync("models", "list");
        Assert.Contains("production=1", list.Out);
        var table = await cli.RunAsync("models", "get", "churn");
        Assert.Contains("auc=", table.Out);
        // A version's input schema, which a prediction must follow, is in its table too.
        var versionTable = await cli.RunAsync("models", "get", "churn", "latest");
        var flat = string.Join(' ', versionTable.Out.Split('\n').Select(l => l.Trim()));
        Assert.Contains("tenure_months: numeric", flat);
        Assert.Contains("plan: categorical (basic|premium|standard)", flat);
    }

    [Fact]
    public async Task A_wrong_label_or_hyperparameter_is_refused_before_the_data_is_uploaded()
    {
        var cli = await server.TenantMemberAsync("team-noupload");
        var data = Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv");

        var label = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "Churned");
        Assert.Equal(ExitCodes.UsageError, label.ExitCode);
        Assert.Contains("did you mean 'churned'?", label.Error, StringComparison.Ordinal);
        var hyperparameter = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--hp", "num_leave=15");
        Assert.NotEqual(ExitCodes.Success, hyperparameter.ExitCode);
        Assert.Contains("num_leave", hyperparameter.Error, StringComparison.Ordinal);

        // Neither uploaded anything nor created a job.
        foreach (var result in new[] { label, hyperparameter }) Assert.DoesNotContain("Uploaded", result.Error, StringComparison.Ordinal);
        var jobs = await cli.RunAsync("jobs", "list", "-o", "json");
        Assert.Equal("[]", jobs.Out.Trim());
    }

    [Fact]
    public async Task A_bad_hyperparameter_is_refused_before_anything_runs()
    {
        var cli = await server.TenantMemberAsync("team-badhp");

        var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", "/nowhere/churn.csv", "--label", "churned", "--hp", "num_leaves=1");

        Assert.NotEqual(ExitCodes.Success, train.ExitCode);
        Assert.Contains("hyperparameters.num_leaves", train.Error);
    }

    [Theory]
    [InlineData("examples/churn/churn.csv", "churn")]
    [InlineData("/data/Customers_2024.CSV", "customers-2024")]
    [InlineData("__.csv", "train")]
    public void The_job_is_named_after_the_data_file(string path, string name) =>
        Assert.Equal(name, TrainCommand.NameFromData(path));

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
