using System.Globalization;
using System.Text;
using System.Text.Json;
using Strata.Cli.Commands;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// `strata models versions|get|compare` against the server, on versions the built-in trainer really trained, and a
/// 0/1 label served by a real replica.
/// </summary>
public sealed class ModelCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Versions_are_compared_side_by_side_with_their_effective_hyperparameters()
    {
        var cli = await server.TenantMemberAsync("team-compare");
        var data = Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv");
        foreach (var leaves in new[] { "15", "7" })
        {
            var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--hp", $"num_leaves={leaves}", "--hp", "num_iterations=20", "--wait");
            Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        }
        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("models", "alias", "churn", "production", "1")).ExitCode);

        // The version records what the trainer used: the defaults (learning_rate, seed) as well as what was given.
        var json = await cli.RunAsync("models", "get", "churn:1", "-o", "json");
        Assert.True(json.ExitCode == ExitCodes.Success, json.ToString());
        using (var version = JsonDocument.Parse(json.Out))
        {
            var hyperparameters = version.RootElement.GetProperty("lineage").GetProperty("hyperparameters");
            Assert.Equal("15", hyperparameters.GetProperty("num_leaves").GetRawText());
            Assert.Equal("0.1", hyperparameters.GetProperty("learning_rate").GetRawText());
            Assert.Equal("42", hyperparameters.GetProperty("seed").GetRawText());
        }

        // get NAME@alias: the input schema and the hyperparameters in the table.
        var get = await cli.RunAsync("models", "get", "churn@production");
        Assert.True(get.ExitCode == ExitCodes.Success, get.ToString());
        var flat = string.Join(' ', get.Out.Split('\n').Select(l => l.Trim()));
        Assert.Matches(@"Model\s+churn@1\s", flat);
        Assert.Contains("tenure_months: numeric (0 to 72)", flat);
        Assert.Contains("plan: categorical (basic|premium|standard)", flat);
        Assert.Contains("churned: boolean, binary", flat);
        Assert.Contains("learning_rate=0.1", flat);
        Assert.Contains("num_leaves=15", flat);

        // versions: a trainer and a hyperparameters column, what differs (num_leaves) first, cut to fit.
        var versions = await cli.RunAsync("models", "versions", "churn");
        Assert.True(versions.ExitCode == ExitCodes.Success, versions.ToString());
        Assert.Contains("TRAINER", versions.Out);
        var rows = versions.Out.Split('\n').Where(l => l.Contains("lightgbm", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Contains("num_leaves=7 ", rows[0]);
        Assert.Contains("num_leaves=15 ", rows[1]);
        Assert.Contains("…", rows[0]);

        var compare = await cli.RunAsync("models", "compare", "churn", "production", "2");
        Assert.True(compare.ExitCode == ExitCodes.Success, compare.ToString());
        var lines = compare.Out.Split('\n');
        Assert.All(lines, line => Assert.True(line.TrimEnd('\r').Length <= ModelCompare.Width, $"{line.Length} columns: {line}"));
        Assert.Contains("churn@1 (production)", compare.Out);
        Assert.Contains("churn@2", compare.Out);
        Assert.Single(lines, l => l.Contains("* num_leaves", StringComparison.Ordinal) && l.Contains("15", StringComparison.Ordinal) && l.Contains('7', StringComparison.Ordinal));
        // The same value on both sides is not marked; the same data counts as the same.
        Assert.Single(lines, l => l.Contains("  learning_rate", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("  data sha256", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("  data ", StringComparison.Ordinal) && l.Contains("artifact://", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("* job", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("  trainer", StringComparison.Ordinal) && l.Contains("lightgbm", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("auc", StringComparison.Ordinal));
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(data)));
        Assert.DoesNotContain(sha256, compare.Out, StringComparison.Ordinal);
        Assert.Contains(sha256[..12], compare.Out, StringComparison.Ordinal);

        // --wide: every value whole; -o json: the versions in the order given.
        var wide = await cli.RunAsync("models", "compare", "churn", "1", "2", "--wide");
        Assert.True(wide.ExitCode == ExitCodes.Success, wide.ToString());
        Assert.Contains(sha256, wide.Out, StringComparison.Ordinal);
        var ordered = await cli.RunAsync("models", "compare", "churn", "2", "1", "-o", "json");
        using (var both = JsonDocument.Parse(ordered.Out))
        {
            Assert.Equal([2, 1], both.RootElement.EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        }

        // Many versions fit too: in blocks of columns.
        var many = await cli.RunAsync(["models", "compare", "churn", .. Enumerable.Range(0, 10).Select(i => i % 2 == 0 ? "1" : "2")]);
        Assert.True(many.ExitCode == ExitCodes.Success, many.ToString());
        Assert.All(many.Out.Split('\n'), line => Assert.True(line.TrimEnd('\r').Length <= ModelCompare.Width, $"{line.Length} columns: {line}"));
        Assert.True(many.Out.Split('\n').Count(l => l.Contains("churn@2", StringComparison.Ordinal)) >= 2, many.Out);

        var missing = await cli.RunAsync("models", "compare", "churn", "1", "9");
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Contains("no version or alias '9'", missing.Error);
        // Another tenant's model is not found, exactly as a missing one.
        var other = await server.TenantMemberAsync("team-compare-other");
        foreach (var args in new[] { new[] { "models", "compare", "churn", "1", "2" }, ["models", "versions", "churn"], ["models", "get", "churn@1"] })
        {
            var refused = await other.RunAsync(args);
            Assert.True(refused.ExitCode == ExitCodes.NotFound, refused.ToString());
        }
    }

    [Fact]
    public async Task A_0_1_label_is_predicted_as_a_number_and_the_schema_prints_numbers_as_written()
    {
        var cli = await server.TenantMemberAsync("team-zero-one");
        var data = Path.Combine(cli.WorkingDirectory, "readings.csv");
        var csv = new StringBuilder("temperature,site,alarm\n");
        var random = new Random(3);
        for (var i = 0; i < 300; i++)
        {
            var temperature = i == 5 ? -3.4718 : i == 6 ? 41.2 : Math.Round(random.NextDouble() * 40, 1);
            csv.Append(CultureInfo.InvariantCulture, $"{temperature},{(i % 3 == 0 ? "north" : "south")},{(temperature > 25 ? 1 : 0)}\n");
        }
        await File.WriteAllTextAsync(data, csv.ToString());

        var train = await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "alarm", "--hp", "num_iterations=20", "--wait");
        Assert.True(train.ExitCode == ExitCodes.Success, train.ToString());
        var get = await cli.RunAsync("models", "get", "readings@latest");
        var flat = string.Join(' ', get.Out.Split('\n').Select(l => l.Trim()));
        Assert.Contains("temperature: numeric (-3.4718 to 41.2)", flat);
        Assert.Contains("alarm: numeric, binary (positive: 1)", flat);

        var deploy = await cli.RunAsync("deploy", "readings", "--model", "readings@1", "--wait");
        Assert.True(deploy.ExitCode == ExitCodes.Success, deploy.ToString());
        var predict = await cli.RunAsync("predict", "readings", """{"instances": [{"temperature": 2.5, "site": "north"}, {"temperature": 38, "site": "south"}]}""");
        Assert.True(predict.ExitCode == ExitCodes.Success, predict.ToString());
        using (var answer = JsonDocument.Parse(predict.Out))
        {
            var labels = answer.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("predicted_label")).ToList();
            Assert.All(labels, label => Assert.Equal(JsonValueKind.Number, label.ValueKind));
            Assert.Equal(["0", "1"], labels.Select(l => l.GetRawText()));
            // The model's float32 probabilities come through the server and the CLI in their shortest form.
            Assert.All(answer.RootElement.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("probability").GetRawText()),
                text => Assert.Equal(float.Parse(text, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), text));
        }

        // From a CSV: the label column of the answer holds 0 and 1, as the input's does.
        var small = Path.Combine(cli.WorkingDirectory, "small.csv");
        await File.WriteAllLinesAsync(small, ["temperature,site", "2.5,north", "38,south"]);
        var rows = await cli.RunAsync("predict", "readings", "--csv", "small.csv");
        Assert.True(rows.ExitCode == ExitCodes.Success, rows.ToString());
        var answers = rows.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r').Split(',')).ToList();
        Assert.Equal(["temperature", "site", "predicted_label", "probability", "score"], answers[0]);
        Assert.Equal(["0", "1"], answers.Skip(1).Select(a => a[2]));
        Assert.All(answers.Skip(1), a => Assert.Equal(float.Parse(a[3], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), a[3]));

        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("deployments", "delete", "readings")).ExitCode);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
