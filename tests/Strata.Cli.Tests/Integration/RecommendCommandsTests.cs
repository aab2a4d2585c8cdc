using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary><c>strata recommend compute</c> and <c>strata jobs submit --compute auto</c> against the real server.</summary>
public sealed class RecommendCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    /// <summary>Whichever the test machine has: CPUs only, or GPUs.</summary>
    private static readonly string[] ComputeTypes = ["cpu", "gpu"];
    private static readonly string[] ComputeFields = ["type", "cpu_cores", "memory_gb", "gpu_count", "gpu_fraction"];

    [Fact]
    public async Task Recommend_compute_prints_the_answer_and_its_reasons_and_json_on_request()
    {
        var cli = await server.TenantMemberAsync("team-recommend");

        var table = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "5", "--model-params", "50000000", "--framework", "pytorch");
        Assert.True(table.ExitCode == ExitCodes.Success, table.ToString());
        Assert.StartsWith("shared: ", table.Out, StringComparison.Ordinal);
        Assert.Contains("  - dataset 5 GB < 10 GB and 5e7 parameters < 1e8: a small workload", table.Out);

        var json = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "5", "--model-params", "5e7", "-o", "json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        using var document = JsonDocument.Parse(json.Out);
        Assert.Equal("shared", document.RootElement.GetProperty("kind").GetString());
        Assert.Contains(document.RootElement.GetProperty("compute").GetProperty("type").GetString(), ComputeTypes);
        Assert.NotEmpty(document.RootElement.GetProperty("reasons").EnumerateArray());
    }

    [Fact]
    public async Task Recommend_compute_reports_the_server_naming_a_bad_field_and_the_parser_a_bad_number()
    {
        var cli = await server.TenantMemberAsync("team-recommend-bad");

        var unknown = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "5", "--model-params", "5e7", "--framework", "keras");
        Assert.True(unknown.ExitCode == ExitCodes.ApiError, unknown.ToString());
        Assert.Contains("framework", unknown.Error);

        var negative = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "-1", "--model-params", "5e7");
        Assert.True(negative.ExitCode == ExitCodes.ApiError, negative.ToString());
        Assert.Contains("dataset_size_gb", negative.Error);

        var notANumber = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "5", "--model-params", "lots");
        Assert.True(notANumber.ExitCode == ExitCodes.UsageError, notANumber.ToString());
        Assert.Contains("--model-params expects a number", notANumber.Error);

        var missing = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "5");
        Assert.True(missing.ExitCode == ExitCodes.UsageError, missing.ToString());
    }

    [Fact]
    public async Task Submit_with_compute_auto_sizes_the_local_data_and_submits_the_recommended_compute()
    {
        var cli = await server.TenantMemberAsync("team-auto");
        using var data = new TempDirectory();
        data.File("train.csv", "x,y\n1,2\n");

        var submitted = await cli.RunAsync("jobs", "submit", "--name", "auto", "--entrypoint", "true", "--data", data.Path,
            "--compute", "auto", "--model-params", "5e7", "-o", "json");

        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        // Chosen, then checked with the server, before anything is uploaded.
        var chose = submitted.Error.IndexOf("--compute auto chose shared: ", StringComparison.Ordinal);
        Assert.True(chose >= 0 && chose < submitted.Error.IndexOf("Uploaded", StringComparison.Ordinal), submitted.Error);
        Assert.Contains("dataset 0 GB < 10 GB", submitted.Error);
        var recommended = await cli.RunAsync("recommend", "compute", "--dataset-size-gb", "0", "--model-params", "5e7", "-o", "json");
        using var recommendation = JsonDocument.Parse(recommended.Out);
        using var job = JsonDocument.Parse(submitted.Out);
        var compute = job.RootElement.GetProperty("spec").GetProperty("compute");
        var chosen = recommendation.RootElement.GetProperty("compute");
        foreach (var field in ComputeFields)
        {
            Assert.Equal(chosen.GetProperty(field).ToString(), compute.GetProperty(field).ToString());
        }
        Assert.StartsWith("artifact://", job.RootElement.GetProperty("spec").GetProperty("data_path").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--compute", "auto")] // no --model-params
    [InlineData("--compute", "auto", "--model-params", "5e7")] // no size: the data is not local
    [InlineData("--compute", "auto", "--model-params", "5e7", "--dataset-size-gb", "5", "--cpu", "2")]
    [InlineData("--compute", "manual", "--model-params", "5e7", "--dataset-size-gb", "5")]
    [InlineData("--model-params", "5e7")] // a workload without --compute auto
    public async Task Submit_refuses_incomplete_or_contradictory_auto_compute_flags_before_calling_the_server(params string[] flags)
    {
        var cli = server.Cli("not-a-token");

        var result = await cli.RunAsync(["jobs", "submit", "--name", "auto", "--entrypoint", "true", "--data", "s3://bucket/train.csv", .. flags]);

        Assert.True(result.ExitCode == ExitCodes.UsageError, result.ToString());
        Assert.Contains("--", result.Error);
    }
}
