using System.Text.Json;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary>The job commands against the real server running real local processes.</summary>
public sealed class JobCommandsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string HelloEntrypoint = """echo hello; echo STRATA > "$MODEL_OUTPUT_PATH/out.txt" """;

    private static string SubmittedId(CliResult submitted)
    {
        Assert.True(submitted.ExitCode == ExitCodes.Success, submitted.ToString());
        using var document = JsonDocument.Parse(submitted.Out);
        return document.RootElement.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task A_submitted_job_runs_to_success_and_its_log_and_attempts_can_be_read()
    {
        var cli = await server.TenantMemberAsync("team-hello");

        var id = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "hello", "--entrypoint", HelloEntrypoint, "-o", "json"));

        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "60s");
        Assert.True(wait.ExitCode == ExitCodes.Success, wait.ToString());
        Assert.Contains("succeeded", wait.Out);

        var logs = await cli.RunAsync("jobs", "logs", id);
        Assert.True(logs.ExitCode == ExitCodes.Success, logs.ToString());
        Assert.Contains("hello", logs.Out.Split('\n').Select(l => l.TrimEnd()));

        var get = await cli.RunAsync("jobs", "get", id, "-o", "json");
        using (var job = JsonDocument.Parse(get.Out))
        {
            Assert.Equal("succeeded", job.RootElement.GetProperty("status").GetString());
            // The server fills in the tenant's artifact area as the default output path; the job wrote there.
            var outputPath = job.RootElement.GetProperty("spec").GetProperty("model_output_path").GetString();
            Assert.NotNull(outputPath);
            Assert.Equal("STRATA", File.ReadAllText(Path.Combine(outputPath, "out.txt")).Trim());
        }

        var table = await cli.RunAsync("jobs", "get", id);
        Assert.Contains("succeeded", table.Out);

        var attempts = await cli.RunAsync("jobs", "attempts", id, "-o", "json");
        Assert.True(attempts.ExitCode == ExitCodes.Success, attempts.ToString());
        using (var document = JsonDocument.Parse(attempts.Out))
        {
            var attempt = Assert.Single(document.RootElement.EnumerateArray());
            Assert.Equal(1, attempt.GetProperty("number").GetInt32());
            Assert.Equal("succeeded", attempt.GetProperty("status").GetString());
            Assert.Equal(0, attempt.GetProperty("exit_code").GetInt32());
        }
    }

    [Fact]
    public async Task A_distributed_job_submitted_with_its_code_folder_keeps_a_log_per_rank()
    {
        var cli = await server.TenantMemberAsync("team-ranks");
        using var project = new TempDirectory();
        File.WriteAllText(Path.Combine(project.Path, "hello.sh"), "echo \"hello from rank $RANK of $WORLD_SIZE\"\n");

        var id = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "ranks", "--workers", "2", "--cpu", "1", "--memory", "1",
            "--code", project.Path, "--entrypoint", "sh hello.sh", "-o", "json"));
        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "60s");
        Assert.True(wait.ExitCode == ExitCodes.Success, wait.ToString());

        var rank0 = await cli.RunAsync("jobs", "logs", id);
        Assert.Contains("hello from rank 0 of 2", rank0.Out.Split('\n').Select(l => l.TrimEnd()));
        var rank1 = await cli.RunAsync("jobs", "logs", id, "--rank", "1");
        Assert.Contains("hello from rank 1 of 2", rank1.Out.Split('\n').Select(l => l.TrimEnd()));
        var all = await cli.RunAsync("jobs", "logs", id, "--rank", "all");
        Assert.Equal(["[rank 0] hello from rank 0 of 2", "[rank 1] hello from rank 1 of 2"],
            all.Out.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).Order());
        var missing = await cli.RunAsync("jobs", "logs", id, "--rank", "2");
        Assert.NotEqual(ExitCodes.Success, missing.ExitCode);
        Assert.Contains("rank", missing.Error);
    }

    [Fact]
    public async Task Waiting_on_a_job_that_exits_with_an_error_exits_non_zero()
    {
        var cli = await server.TenantMemberAsync("team-fail");

        var id = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "fails", "--entrypoint", "echo about to fail; exit 3", "--max-attempts", "1", "-o", "json"));
        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "60s");

        Assert.True(wait.ExitCode == ExitCodes.Failure, wait.ToString());
        Assert.Contains($"job \"{id}\" failed", wait.Error);

        var attempts = await cli.RunAsync("jobs", "attempts", id, "-o", "json");
        using var document = JsonDocument.Parse(attempts.Out);
        Assert.Contains(document.RootElement.EnumerateArray(), a => a.TryGetProperty("exit_code", out var code) && code.ValueKind == JsonValueKind.Number && code.GetInt32() == 3);
    }

    [Fact]
    public async Task A_cancelled_job_ends_cancelled_and_wait_exits_non_zero()
    {
        var cli = await server.TenantMemberAsync("team-cancel");

        var id = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "sleeper", "--entrypoint", "sleep 60", "-o", "json"));
        var cancel = await cli.RunAsync("jobs", "cancel", id);
        Assert.True(cancel.ExitCode == ExitCodes.Success, cancel.ToString());

        var wait = await cli.RunAsync("jobs", "wait", id, "--timeout", "30s");
        Assert.True(wait.ExitCode == ExitCodes.Failure, wait.ToString());
        Assert.Contains("cancelled", wait.Error);
    }

    [Fact]
    public async Task Jobs_list_prints_the_APIs_JSON_newest_first_and_pages_with_all()
    {
        var cli = await server.TenantMemberAsync("team-list");
        var ids = new List<string>();
        foreach (var name in new[] { "first", "second", "third" })
        {
            ids.Add(SubmittedId(await cli.RunAsync("jobs", "submit", "--name", name, "--entrypoint", "true", "-o", "json")));
        }

        var all = await cli.RunAsync("jobs", "list", "--all", "--limit", "2", "-o", "json");
        Assert.True(all.ExitCode == ExitCodes.Success, all.ToString());
        using (var document = JsonDocument.Parse(all.Out))
        {
            var listed = document.RootElement.EnumerateArray().Select(j => j.GetProperty("id").GetString()).ToList();
            Assert.Equal(Enumerable.Reverse(ids), listed);
            var job = document.RootElement[0];
            foreach (var field in new[] { "spec", "status", "created_at", "started_at", "completed_at", "error_message", "kubernetes_job_name", "metrics", "status_reason", "queue_position" })
            {
                Assert.True(job.TryGetProperty(field, out _), $"missing {field}");
            }
        }

        var page = await cli.RunAsync("jobs", "list", "--limit", "2");
        Assert.True(page.ExitCode == ExitCodes.Success, page.ToString());
        Assert.Contains(ids[2], page.Out);
        Assert.DoesNotContain(ids[0], page.Out);
        Assert.Contains("--page-token", page.Out);
    }

    [Fact]
    public async Task Following_a_log_streams_until_the_attempt_ends()
    {
        var cli = await server.TenantMemberAsync("team-follow");

        var id = SubmittedId(await cli.RunAsync("jobs", "submit", "--name", "follow", "--entrypoint", "echo one; sleep 1; echo two", "-o", "json"));
        var logs = await cli.RunAsync("jobs", "logs", id, "-f");

        Assert.True(logs.ExitCode == ExitCodes.Success, logs.ToString());
        var lines = logs.Out.Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.Contains("one", lines);
        Assert.Contains("two", lines);
    }

    [Fact]
    public async Task A_job_that_does_not_exist_is_a_404_line_and_the_not_found_exit_code()
    {
        var cli = await server.TenantMemberAsync("team-404");

        foreach (var command in new[] { "get", "logs", "cancel", "wait", "attempts" })
        {
            var result = await cli.RunAsync("jobs", command, "no-such-job");
            Assert.True(result.ExitCode == ExitCodes.NotFound, $"{command}: {result}");
            Assert.Equal("error: job \"no-such-job\" not found (404)", result.Error.TrimEnd());
        }
    }

    [Fact]
    public async Task An_invalid_spec_is_refused_with_one_line_per_field()
    {
        var cli = await server.TenantMemberAsync("team-invalid");

        var result = await cli.RunAsync("jobs", "submit", "--name", "Not_A_Label", "--entrypoint", "true");

        Assert.True(result.ExitCode == ExitCodes.ApiError, result.ToString());
        Assert.Contains(result.Error.Split('\n'), line => line.StartsWith("error: name", StringComparison.Ordinal) || line.StartsWith("error: spec.name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_job_of_another_tenant_is_not_found()
    {
        var owner = await server.TenantMemberAsync("team-own");
        var other = await server.TenantMemberAsync("team-other");
        var id = SubmittedId(await owner.RunAsync("jobs", "submit", "--name", "private", "--entrypoint", "true", "-o", "json"));

        var result = await other.RunAsync("jobs", "get", id);

        Assert.True(result.ExitCode == ExitCodes.NotFound, result.ToString());
    }
}
