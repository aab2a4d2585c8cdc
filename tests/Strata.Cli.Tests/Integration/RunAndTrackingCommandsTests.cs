using System.Text.Json;
using System.Text.RegularExpressions;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary><c>strata run</c>, <c>--data</c> uploads, <c>jobs metrics</c> and <c>jobs compare</c> against the real server.</summary>
public sealed class RunAndTrackingCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TempDirectory _project = new();

    private static string Id(CliResult result)
    {
        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        using var document = JsonDocument.Parse(result.Out);
        return document.RootElement.GetProperty("id").GetString()!;
    }

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_project.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static async Task<string> SucceededLogAsync(CliHarness cli, string id)
    {
        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "60s");
        var logs = await cli.RunAsync("jobs", "logs", id);
        Assert.True(wait.ExitCode == ExitCodes.Success, wait + "\n" + logs);
        return logs.Out;
    }

    [Fact]
    public async Task Run_packs_the_folder_without_what_gitignore_and_strataignore_exclude_and_runs_it_in_a_copy()
    {
        var cli = await server.TenantMemberAsync("team-run");
        Write("train.py", """
            import os
            for root, _, files in sorted(os.walk(".")):
                for name in sorted(files):
                    print("file", os.path.join(root, name)[2:])
            print("data", open(os.environ["DATA_PATH"]).read().strip())
            print("lr", os.environ["HYPERPARAM_LR"])
            """);
        Write(".gitignore", "*.pt\n");
        Write(".strataignore", "secrets/\n");
        Write("weights.pt", "big");
        Write("secrets/key.txt", "hunter2");
        Write("lib/util.py", "");
        Write("data.csv", "a,b");

        var run = await cli.RunAsync("run", _project.Path, "--entrypoint", "python3 train.py", "--data", Path.Combine(_project.Path, "data.csv"), "-p", "lr=0.1", "-o", "json");
        var id = Id(run);

        Assert.Contains("Packed", run.Error, StringComparison.Ordinal);
        // Without a terminal, packing's progress is whole lines: what it is about to pack, then what it packed.
        var packing = run.Error.Split('\n').Where(l => l.StartsWith("Pack", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, packing.Count);
        // data.csv is --data: uploaded once as the job's data, not packed with its code as well.
        Assert.Matches($@"^Packing 4 files \(\d+ B\) from {Regex.Escape(_project.Path)}$", packing[0]);
        Assert.Equal(packing[0].Replace("Packing", "Packed", StringComparison.Ordinal), packing[1]);
        Assert.Contains("Uploaded data.csv", run.Error, StringComparison.Ordinal);
        var output = await SucceededLogAsync(cli, id);
        Assert.Contains("file train.py", output, StringComparison.Ordinal);
        Assert.Contains("file lib/util.py", output, StringComparison.Ordinal);
        Assert.DoesNotContain("file data.csv", output, StringComparison.Ordinal);
        Assert.DoesNotContain("weights.pt", output, StringComparison.Ordinal);
        Assert.DoesNotContain("secrets", output, StringComparison.Ordinal);
        Assert.Contains("data a,b", output, StringComparison.Ordinal);
        Assert.Contains("lr 0.1", output, StringComparison.Ordinal);
        using var job = JsonDocument.Parse((await cli.RunAsync("jobs", "get", id, "-o", "json")).Out);
        var spec = job.RootElement.GetProperty("spec");
        Assert.StartsWith("artifact://", spec.GetProperty("code_artifact").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("artifact://", spec.GetProperty("data_path").GetString(), StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(_project.Path)[..8], spec.GetProperty("name").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_builds_the_jobs_environment_from_the_folders_requirements_txt_and_a_requirement_pip_cannot_find_fails_the_job()
    {
        var cli = await server.TenantMemberAsync("team-env");
        Write("train.py", "print('never runs')\n");
        Write("requirements.txt", "not-on-this-machine==1.0\n");

        var run = await cli.RunAsync("run", _project.Path, "-o", "json");
        var id = Id(run);
        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "120s");

        Assert.Contains("Using requirements.txt for the job's Python environment", run.Error, StringComparison.Ordinal);
        Assert.NotEqual(ExitCodes.Success, wait.ExitCode);
        using var job = JsonDocument.Parse((await cli.RunAsync("jobs", "get", id, "-o", "json")).Out);
        Assert.Equal("requirements.txt", job.RootElement.GetProperty("spec").GetProperty("environment").GetProperty("requirements").GetString());
        Assert.Equal("environment_error", job.RootElement.GetProperty("status_reason").GetString());
        Assert.Contains("not-on-this-machine==1.0", job.RootElement.GetProperty("error_message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_without_train_py_or_an_entrypoint_is_a_usage_error()
    {
        var cli = await server.TenantMemberAsync("team-empty");
        var run = await cli.RunAsync("run", _project.Path);
        Assert.Equal(ExitCodes.UsageError, run.ExitCode);
        Assert.Contains("train.py", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_uploads_a_local_data_folder_and_metrics_and_compare_show_the_runs()
    {
        var cli = await server.TenantMemberAsync("team-track");
        Write("dataset/part-0.csv", "1\n");
        var entrypoint = """ls "$DATA_PATH"; for s in 1 2 3; do echo "STRATA_METRIC {\"name\":\"loss\",\"value\":$((4 - s)),\"step\":$s}"; done""";

        var first = Id(await cli.RunAsync("jobs", "submit", "--name", "first", "--entrypoint", entrypoint, "--data", Path.Combine(_project.Path, "dataset"), "-p", "lr=0.1", "-o", "json"));
        var second = Id(await cli.RunAsync("jobs", "submit", "--name", "second", "--entrypoint", entrypoint + "; echo 'STRATA_METRIC {\"name\":\"auc\",\"value\":0.9}'",
            "--data", Path.Combine(_project.Path, "dataset"), "-p", "lr=0.2", "--cpu", "1", "-o", "json"));
        Assert.Contains("part-0.csv", await SucceededLogAsync(cli, first), StringComparison.Ordinal);
        await SucceededLogAsync(cli, second);

        CliResult metrics = default!;
        for (var i = 0; i < 100; i++)
        {
            metrics = await cli.RunAsync("jobs", "metrics", second);
            if (metrics.Out.Contains("auc", StringComparison.Ordinal) && metrics.Out.Contains("loss", StringComparison.Ordinal)) break;
            await Task.Delay(100);
        }
        Assert.True(metrics.ExitCode == ExitCodes.Success, metrics.ToString());
        var loss = metrics.Out.Split('\n').Single(l => l.Contains("loss", StringComparison.Ordinal));
        Assert.Contains("█▅▁", loss, StringComparison.Ordinal);

        for (var i = 0; i < 100 && !(await cli.RunAsync("jobs", "get", first, "-o", "json")).Out.Contains("\"loss\"", StringComparison.Ordinal); i++) await Task.Delay(100);
        var compare = await cli.RunAsync("jobs", "compare", first, second);
        Assert.True(compare.ExitCode == ExitCodes.Success, compare.ToString());
        var lines = compare.Out.Split('\n');
        Assert.Contains(lines, l => l.Contains("entrypoint", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("compute.cpu_cores", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("lr", StringComparison.Ordinal) && l.Contains("0.1", StringComparison.Ordinal) && l.Contains("0.2", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("auc", StringComparison.Ordinal) && l.Contains("0.9", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("loss", StringComparison.Ordinal) && l.Contains('1'));
    }

    public void Dispose() => _project.Dispose();
}
