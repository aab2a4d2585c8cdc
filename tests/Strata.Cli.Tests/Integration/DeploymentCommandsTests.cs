using System.Text.Json;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// `strata deploy`, `strata deployments` and `strata predict` against the server, with churn trained by
/// the built-in trainer and served by real `strata-worker serve` replicas.
/// </summary>
public sealed class DeploymentCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Instance = """
        {"tenure_months": 3, "plan": "basic", "contract": "month-to-month", "monthly_charges": 70.5, "total_charges": 211.5,
         "support_calls": 4, "region": "west", "paperless_billing": "yes"}
        """;

    [Fact]
    public async Task Deploy_predict_update_roll_back_and_delete_through_the_cli()
    {
        var cli = await server.TenantMemberAsync("team-deploy");
        var data = Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv");
        for (var i = 0; i < 2; i++)
        {
            var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--hp", "num_iterations=20", "--wait");
            Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        }

        var deploy = await cli.RunAsync("deploy", "churn", "--model", "churn@1", "--min", "1", "--max", "2", "--target-in-flight", "4", "--wait", "-o", "json");
        Assert.True(deploy.ExitCode == ExitCodes.Success, deploy.ToString());
        // --wait's progress is on standard error, one whole line per change of state, ending ready.
        var progress = deploy.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(progress, line => Assert.Matches(@"^deployment churn: \w+, \d+ of \d+ replica\(s\) ready \(version 1\)$", line));
        Assert.Equal("deployment churn: ready, 1 of 1 replica(s) ready (version 1)", progress[^1]);
        Assert.Equal(progress.Length, progress.Distinct().Count());
        using (var deployed = JsonDocument.Parse(deploy.Out))
        {
            Assert.Equal("ready", deployed.RootElement.GetProperty("status").GetString());
            Assert.Equal(1, deployed.RootElement.GetProperty("model_version").GetInt32());
            Assert.Equal(4, deployed.RootElement.GetProperty("scaling").GetProperty("target_in_flight").GetDouble());
        }

        var one = await cli.RunAsync("predict", "churn", Instance);
        Assert.True(one.ExitCode == ExitCodes.Success, one.ToString());
        using (var answer = JsonDocument.Parse(one.Out))
        {
            Assert.Equal("1", answer.RootElement.GetProperty("version").GetString());
            Assert.InRange(answer.RootElement.GetProperty("prediction").GetProperty("probability").GetDouble(), 0, 1);
        }
        var file = Path.Combine(cli.WorkingDirectory, "batch.json");
        await File.WriteAllTextAsync(file, $$"""{"instances": [{{Instance}}, {{Instance}}]}""");
        var batch = await cli.RunAsync("predict", "churn", "@batch.json");
        Assert.True(batch.ExitCode == ExitCodes.Success, batch.ToString());
        using (var answer = JsonDocument.Parse(batch.Out)) Assert.Equal(2, answer.RootElement.GetProperty("predictions").GetArrayLength());
        // An instance that does not fit the model's schema: each field at fault is said once.
        var wrong = await cli.RunAsync("predict", "churn", """{"tenure_months": "lots", "plan": "basic"}""");
        Assert.NotEqual(ExitCodes.Success, wrong.ExitCode);
        Assert.Single(wrong.Error.Split('\n'), l => l.Contains("tenure_months", StringComparison.Ordinal));
        // A CSV: 3,000 rows in batches, answered as CSV with the input's columns (the label too) and the prediction's.
        var predictions = Path.Combine(cli.WorkingDirectory, "predictions.csv");
        var csv = await cli.RunAsync("predict", "churn", "--csv", data, "--out", predictions);
        Assert.True(csv.ExitCode == ExitCodes.Success, csv.ToString());
        var input = File.ReadAllLines(data);
        var output = File.ReadAllLines(predictions);
        Assert.Equal(input[0] + ",predicted_label,probability,score", output[0]);
        Assert.Equal(input.Length, output.Length);
        Assert.StartsWith(input[1] + ",", output[1], StringComparison.Ordinal);
        Assert.StartsWith(input[^1] + ",", output[^1], StringComparison.Ordinal);
        // @file.csv to standard output, the same; a cell that is not a number where the model takes one is named, briefly.
        var small = Path.Combine(cli.WorkingDirectory, "small.csv");
        await File.WriteAllLinesAsync(small, [input[0], input[1], input[2]]);
        var stdout = await cli.RunAsync("predict", "churn", "@small.csv");
        Assert.True(stdout.ExitCode == ExitCodes.Success, stdout.ToString());
        Assert.Equal(output[..3], stdout.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')));
        await File.WriteAllLinesAsync(small, [input[0], "lots" + new string('x', 500) + input[1][input[1].IndexOf(',', StringComparison.Ordinal)..]]);
        var bad = await cli.RunAsync("predict", "churn", "--csv", "small.csv");
        Assert.Equal(ExitCodes.UsageError, bad.ExitCode);
        Assert.Contains("line 2, column tenure_months", bad.Error, StringComparison.Ordinal);
        Assert.True(bad.Error.Length < 400, bad.Error);

        // The README's file, as shipped.
        var shipped = await cli.RunAsync("predict", "churn", "@" + Path.Combine(RepositoryRoot(), "examples", "churn", "instances.json"));
        Assert.True(shipped.ExitCode == ExitCodes.Success, shipped.ToString());
        using (var answer = JsonDocument.Parse(shipped.Out)) Assert.Equal(2, answer.RootElement.GetProperty("predictions").GetArrayLength());

        var nothingBefore = await cli.RunAsync("deployments", "rollback", "churn");
        Assert.Equal(ExitCodes.UsageError, nothingBefore.ExitCode);
        Assert.Contains("no earlier version", nothingBefore.Error);

        // Another tenant does not see it, exactly as if it did not exist.
        var other = await server.TenantMemberAsync("team-deploy-other");
        foreach (var args in new[] { new[] { "predict", "churn", Instance }, ["deployments", "get", "churn"], ["deployments", "rollback", "churn"], ["deployments", "delete", "churn"] })
        {
            var refused = await other.RunAsync(args);
            Assert.True(refused.ExitCode == ExitCodes.NotFound, refused.ToString());
            Assert.Contains("deployment \"churn\" not found", refused.Error);
        }

        // The name exists: deploy changes it (a rolling update to version 2).
        var update = await cli.RunAsync("deploy", "churn", "--model", "churn@2", "--wait");
        Assert.True(update.ExitCode == ExitCodes.Success, update.ToString());
        Assert.Contains("Updated deployment churn", update.Out);
        Assert.Contains("Ready: 1 replica(s) of version 2", update.Out);

        var rollback = await cli.RunAsync("deployments", "rollback", "churn", "-o", "json");
        Assert.True(rollback.ExitCode == ExitCodes.Success, rollback.ToString());
        using (var rolled = JsonDocument.Parse(rollback.Out))
        {
            Assert.Equal(1, rolled.RootElement.GetProperty("model_version").GetInt32());
            Assert.Equal(2, rolled.RootElement.GetProperty("previous_model_version").GetInt32());
        }
        var again = await cli.RunAsync("deployments", "rollback", "churn", "--to-version", "2", "--wait");
        Assert.True(again.ExitCode == ExitCodes.Success, again.ToString());
        Assert.Contains("back from version 1 to version 2", again.Out);
        Assert.Contains("Ready: 1 replica(s) of version 2", again.Out);

        var list = await cli.RunAsync("deployments", "list");
        Assert.Contains("churn@2", list.Out);
        var get = await cli.RunAsync("deployments", "get", "churn");
        Assert.Contains("before: version 1", get.Out);
        Assert.Contains("created", get.Out);

        var delete = await cli.RunAsync("deployments", "delete", "churn");
        Assert.True(delete.ExitCode == ExitCodes.Success, delete.ToString());
        var gone = await cli.RunAsync("deployments", "get", "churn");
        Assert.Equal(ExitCodes.NotFound, gone.ExitCode);
    }

    [Fact]
    public async Task Bad_inputs_are_refused_with_a_clear_line()
    {
        var cli = await server.TenantMemberAsync("team-deploy-bad");

        var noModel = await cli.RunAsync("deploy", "nothing", "--min", "2");
        Assert.Equal(ExitCodes.UsageError, noModel.ExitCode);
        Assert.Contains("give --model to create it", noModel.Error);
        var unknownModel = await cli.RunAsync("deploy", "churn", "--model", "churn@1");
        Assert.Equal(ExitCodes.ApiError, unknownModel.ExitCode);
        Assert.Contains("model:", unknownModel.Error);
        // The server's runtime is local: it scales on requests in flight only, and says so before looking for the model.
        var cpu = await cli.RunAsync("deploy", "churn", "--model", "churn@1", "--scaling-mode", "cpu");
        Assert.Equal(ExitCodes.ApiError, cpu.ExitCode);
        Assert.Contains("scaling.mode:", cpu.Error);
        Assert.Contains("scales on requests in flight only", cpu.Error);

        var notJson = await cli.RunAsync("predict", "churn", "{tenure_months: 3");
        Assert.Equal(ExitCodes.UsageError, notJson.ExitCode);
        Assert.Contains("not JSON", notJson.Error);
        var noFile = await cli.RunAsync("predict", "churn", "@missing.json");
        Assert.Equal(ExitCodes.UsageError, noFile.ExitCode);
        var missing = await cli.RunAsync("predict", "churn", Instance);
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
