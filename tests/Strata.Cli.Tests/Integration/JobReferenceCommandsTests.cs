using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// Jobs named by id prefixes and names on the command line, and <c>jobs compare</c> of runs a user cannot tell apart by
/// their names: the real server, the built-in trainer really training.
/// </summary>
public sealed class JobReferenceCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static string SubmittedId(CliResult result)
    {
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        using var document = JsonDocument.Parse(result.Out);
        return document.RootElement.GetProperty("id").GetString()!;
    }

    private static string CommonPrefix(string a, string b) => a[..a.Zip(b).TakeWhile(p => p.First == p.Second).Count()];

    [Fact]
    public async Task Commands_take_a_unique_prefix_or_a_name_and_an_ambiguous_one_prints_the_candidates()
    {
        var cli = await server.TenantMemberAsync("team-refs");
        var first = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "nightly", "--entrypoint", "echo first", "-o", "json"));
        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("jobs", "wait", first)).ExitCode);
        var second = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "nightly", "--entrypoint", "echo second", "-o", "json"));
        Assert.Equal(ExitCodes.Success, (await cli.RunAsync("jobs", "wait", second)).ExitCode);
        var shared = CommonPrefix(first, second);
        Assert.True(shared.Length >= 4, $"{first} and {second} were submitted a moment apart");
        var firstPrefix = first[..(shared.Length + (first[shared.Length] == '-' ? 2 : 1))];

        var get = await cli.RunAsync("jobs", "get", firstPrefix.ToUpperInvariant(), "-o", "json");
        Assert.Equal(first, SubmittedId(get));
        var logs = await cli.RunAsync("jobs", "logs", firstPrefix);
        Assert.True(logs.ExitCode == ExitCodes.Success, logs.ToString());
        Assert.Contains("first", logs.Out, StringComparison.Ordinal);

        foreach (var reference in new[] { shared, "nightly" })
        {
            var ambiguous = await cli.RunAsync("jobs", "get", reference);
            Assert.True(ambiguous.ExitCode == ExitCodes.ApiError, ambiguous.ToString());
            var lines = ambiguous.Error.Split('\n');
            Assert.StartsWith($"error: '{reference}' names 2 training jobs", lines[0], StringComparison.Ordinal);
            // A table of the candidates, newest first: id, name, status, created.
            Assert.Contains(lines, l => l.Contains("ID", StringComparison.Ordinal) && l.Contains("NAME", StringComparison.Ordinal) && l.Contains("CREATED", StringComparison.Ordinal));
            var secondRow = Array.FindIndex(lines, l => l.Contains(second, StringComparison.Ordinal));
            var firstRow = Array.FindIndex(lines, l => l.Contains(first, StringComparison.Ordinal));
            Assert.True(secondRow > 0 && firstRow > secondRow, ambiguous.Error);
            Assert.Contains("succeeded", lines[firstRow], StringComparison.Ordinal);
            Assert.Equal("", ambiguous.Out);
        }

        var none = await cli.RunAsync("jobs", "get", "ffff");
        Assert.Equal(ExitCodes.NotFound, none.ExitCode);

        // A running job of the name is the one the name means; cancel names it by that name.
        var third = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "nightly", "--entrypoint", "sleep 30", "-o", "json"));
        var cancel = await cli.RunAsync("jobs", "cancel", "nightly");
        Assert.True(cancel.ExitCode == ExitCodes.Success, cancel.ToString());
        Assert.Contains($"Cancelled job {third}", cancel.Out, StringComparison.Ordinal);
        var wait = await cli.RunAsync("jobs", "wait", third);
        Assert.Equal(ExitCodes.Failure, wait.ExitCode);
        Assert.Contains("cancelled", wait.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_tenants_job_is_not_found_by_its_prefix_or_name()
    {
        var owner = await server.TenantMemberAsync("team-refs-own");
        var other = await server.TenantMemberAsync("team-refs-other");
        var id = SubmittedId(await owner.RunAsync("jobs", "submit", "--name", "private-run", "--entrypoint", "true", "-o", "json"));

        foreach (var reference in new[] { id[..13], "private-run" })
        {
            var get = await other.RunAsync("jobs", "get", reference);
            Assert.True(get.ExitCode == ExitCodes.NotFound, get.ToString());
        }
    }

    [Fact]
    public async Task Compare_tells_two_runs_of_one_minute_apart_counts_one_file_uploaded_twice_as_the_same_data_and_shows_every_hyperparameter_used()
    {
        var cli = await server.TenantMemberAsync("team-compare");
        var folder = Directory.CreateTempSubdirectory("strata-compare-");
        var data = Path.Combine(folder.FullName, "churn.csv");
        File.Copy(Path.Combine(RepositoryRoot(), "examples", "churn", "churn.csv"), data);

        // The same file, uploaded by each run: two artifacts of one sha256.
        var slow = SubmittedId(await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--hp", "learning_rate=0.05", "--wait", "-o", "json"));
        var fast = SubmittedId(await cli.RunAsync("train", "--model", "lightgbm", "--data", data, "--label", "churned", "--wait", "-o", "json"));

        var compare = await cli.RunAsync("jobs", "compare", slow, fast);

        Assert.True(compare.ExitCode == ExitCodes.Success, compare.ToString());
        var lines = compare.Out.Split('\n').Select(l => l.TrimEnd()).ToList();
        // Both columns are "churn"; the ends of their ids tell them apart.
        var heading = lines.First(l => l.Contains('…'));
        var ends = heading.Split('…').Skip(1).Select(part => new string(part.TakeWhile(char.IsAsciiHexDigit).ToArray())).ToList();
        Assert.Equal(2, ends.Count);
        Assert.NotEqual(ends[0], ends[1]);
        Assert.EndsWith(ends[0], slow.Replace("-", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.EndsWith(ends[1], fast.Replace("-", "", StringComparison.Ordinal), StringComparison.Ordinal);
        // Two uploads of one file are one data set; the output folders (each job's own) are not compared.
        Assert.DoesNotContain(lines, l => l.Contains("data_path", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("model_output_path", StringComparison.Ordinal));
        // The trainer's values, defaults included: the learning rate given and the default, the default leaves of both.
        Assert.Contains(lines, l => Cells(l) is ["learning_rate", "0.05", "0.1"]);
        Assert.Contains(lines, l => Cells(l) is ["num_leaves", "31", "31"]);
        Assert.Contains(lines, l => Cells(l) is ["seed", "42", "42"]);
        Assert.Contains(lines, l => Cells(l) is ["auc", _, _]);
    }

    [Fact]
    public async Task Compare_fits_120_columns_by_default_and_wide_shows_every_value_whole()
    {
        var cli = await server.TenantMemberAsync("team-compare-wide");
        var script = "echo " + new string('x', 70) + " && true";
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add(SubmittedId(await cli.RunAsync("jobs", "submit", "--name", $"sweep-{i}", "--entrypoint", $"{script} {i}", "-p", $"depth={i}", "-o", "json")));
        }

        var compare = await cli.RunAsync(["jobs", "compare", .. ids]);
        Assert.True(compare.ExitCode == ExitCodes.Success, compare.ToString());
        var lines = compare.Out.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        Assert.All(lines, line => Assert.True(line.Length <= 120, $"{line.Length} columns: {line}"));
        // Every run is there, its entrypoint cut short.
        for (var i = 0; i < 6; i++) Assert.Contains(lines, l => l.Contains($"sweep-{i}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("entrypoint", StringComparison.Ordinal) && l.Contains("echo xxx", StringComparison.Ordinal) && l.Contains('…'));
        Assert.Contains(lines, l => Cells(l) is ["depth", "0", ..]);

        // Three runs fit the test's 400-column console whole, in one table.
        var wide = await cli.RunAsync(["jobs", "compare", .. ids[..3], "--wide"]);
        Assert.True(wide.ExitCode == ExitCodes.Success, wide.ToString());
        Assert.Contains(wide.Out.Split('\n'), l => l.Contains("entrypoint", StringComparison.Ordinal) && l.Contains($"{script} 2", StringComparison.Ordinal));
        Assert.Contains(wide.Out.Split('\n'), l => l.Contains("sweep-0", StringComparison.Ordinal) && l.Contains("sweep-2", StringComparison.Ordinal));
    }

    /// <summary>A table row's cells, without the borders and padding.</summary>
    private static string[] Cells(string line) =>
        [.. line.Split(['│', '|'], StringSplitOptions.TrimEntries).Where(cell => cell.Length > 0)];

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
