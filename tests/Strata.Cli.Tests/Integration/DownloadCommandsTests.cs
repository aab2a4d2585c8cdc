using System.Security.Cryptography;
using System.Text.Json;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// `strata models download` and `strata jobs outputs`: a user who shares no disk with the server gets the model and
/// the outputs with the CLI alone, and the tables show no path of the server's disk.
/// </summary>
public sealed class DownloadCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task A_trained_model_and_its_jobs_outputs_download_to_the_users_folder()
    {
        var cli = await server.TenantMemberAsync("team-download");
        var data = Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv");
        var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--wait", "-o", "json");
        Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        string jobId;
        using (var job = JsonDocument.Parse(train.Out)) jobId = job.RootElement.GetProperty("id").GetString()!;
        var alias = await cli.RunAsync("models", "alias", "churn", "production", "1");
        Assert.True(alias.ExitCode == ExitCodes.Success, alias.ToString());

        // The version's table names no file on the server's disk; the download is checked against its sha256.
        var version = await cli.RunAsync("models", "get", "churn", "production");
        Assert.DoesNotContain(server.DataPath, version.Out, StringComparison.Ordinal);
        var folder = Directory.CreateTempSubdirectory("strata-download-").FullName;
        var download = await cli.RunAsync("models", "download", "churn@production", Path.Combine(folder, "model"));
        Assert.True(download.ExitCode == ExitCodes.Success, download.ToString());
        var file = Path.Combine(folder, "model", "churn-1.zip");
        using (var registered = JsonDocument.Parse((await cli.RunAsync("models", "get", "churn", "1", "-o", "json")).Out))
        {
            Assert.Equal(registered.RootElement.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
        }
        Assert.Contains("checked", download.Out, StringComparison.Ordinal);

        // The job's outputs: listed, then fetched into a folder, byte for byte.
        var get = await cli.RunAsync("jobs", "get", jobId);
        Assert.DoesNotContain(server.DataPath, get.Out, StringComparison.Ordinal);
        Assert.Contains($"strata jobs outputs {jobId}", get.Out, StringComparison.Ordinal);
        var listing = await cli.RunAsync("jobs", "outputs", jobId, "-o", "name");
        Assert.Equal(["metrics.json", "model.zip", "schema.json"], listing.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var outputs = await cli.RunAsync("jobs", "outputs", jobId, Path.Combine(folder, "out"));
        Assert.True(outputs.ExitCode == ExitCodes.Success, outputs.ToString());
        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(folder, "out", "model.zip")));
        Assert.True(JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "out", "metrics.json"))).RootElement.TryGetProperty("metrics", out _));

        // Another tenant has neither.
        var other = await server.TenantMemberAsync("team-download-other");
        Assert.Equal(ExitCodes.NotFound, (await other.RunAsync("models", "download", "churn@production", folder)).ExitCode);
        Assert.Equal(ExitCodes.NotFound, (await other.RunAsync("jobs", "outputs", jobId)).ExitCode);
        Directory.Delete(folder, recursive: true);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
