using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>Jobs really run (strata-worker, <c>/bin/sh -c</c>): their outcome, attempts, environment and cancellation.</summary>
public sealed class JobRunTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly string[] SeedFields =
        ["id", "spec", "status", "created_at", "started_at", "completed_at", "error_message", "kubernetes_job_name", "metrics"];

    [Fact]
    public async Task Omitted_fields_take_the_local_runtimes_defaults()
    {
        var (tenant, client) = await app.TenantClientAsync("defaults");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new { name = "bare" });
        var id = job.GetProperty("id").GetString()!;

        foreach (var field in SeedFields)
        {
            Assert.True(job.TryGetProperty(field, out var _), $"The job resource lacks the seed's field '{field}': {job}");
        }
        Assert.True(Guid.TryParse(id, out var _));
        Assert.Equal("pending", job.GetProperty("status").GetString());
        Assert.Equal(0, job.GetProperty("attempts").GetInt32());
        var spec = job.GetProperty("spec");
        Assert.Equal("bare", spec.GetProperty("name").GetString());
        Assert.Equal(tenant, spec.GetProperty("tenant_id").GetString());
        Assert.Equal("python train.py", spec.GetProperty("entrypoint").GetString());
        var compute = spec.GetProperty("compute");
        Assert.Equal("cpu", compute.GetProperty("type").GetString());
        Assert.Equal(1, compute.GetProperty("cpu_cores").GetInt32());
        Assert.Equal(2, compute.GetProperty("memory_gb").GetInt32());
        Assert.Equal(3, spec.GetProperty("retry").GetProperty("max_attempts").GetInt32());
        Assert.Equal(0, spec.GetProperty("priority").GetInt32());
        var output = spec.GetProperty("model_output_path").GetString()!;
        Assert.StartsWith(Path.Combine(app.DataPath, "artifacts", tenant) + "/", output, StringComparison.Ordinal);
        Assert.Contains(id, output, StringComparison.Ordinal);

        // GET answers the same resource.
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}"))
        {
            var again = await Http.ExpectAsync(get, 200);
            Assert.Equal(spec.GetProperty("model_output_path").GetString(), again.GetProperty("spec").GetProperty("model_output_path").GetString());
        }
        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.True(cancel.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.Conflict, $"Cancel answered {(int)cancel.StatusCode}.");
        }
        await StrataApp.WaitForEndAsync(client, id);
    }

    [Fact]
    public async Task A_job_that_exits_0_succeeds_and_leaves_its_output()
    {
        var (_, client) = await app.TenantClientAsync("success");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "hello",
            entrypoint = "echo hello; echo out > \"$MODEL_OUTPUT_PATH/model.txt\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal("completed", done.GetProperty("status_reason").GetString());
        Assert.Equal(JsonValueKind.Null, done.GetProperty("error_message").ValueKind);
        Assert.Equal(JsonValueKind.Null, done.GetProperty("queue_position").ValueKind);
        var started = done.GetProperty("started_at").GetDateTimeOffset();
        var completed = done.GetProperty("completed_at").GetDateTimeOffset();
        Assert.True(done.GetProperty("created_at").GetDateTimeOffset() <= started);
        Assert.True(started <= completed);
        Assert.Equal(1, done.GetProperty("attempts").GetInt32());
        Assert.Equal("local", done.GetProperty("runtime").GetProperty("kind").GetString());
        var output = done.GetProperty("spec").GetProperty("model_output_path").GetString()!;
        Assert.Equal("out\n", await File.ReadAllTextAsync(Path.Combine(output, "model.txt")));
        Assert.Equal(output, done.GetProperty("output").GetProperty("artifact").GetString());

        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        var attempt = Assert.Single((await Http.ExpectAsync(response, 200)).EnumerateArray());
        Assert.Equal(1, attempt.GetProperty("number").GetInt32());
        Assert.Equal("succeeded", attempt.GetProperty("status").GetString());
        Assert.Equal(0, attempt.GetProperty("exit_code").GetInt32());
        Assert.Equal("completed", attempt.GetProperty("reason").GetString());
        Assert.True(attempt.GetProperty("peak_memory_bytes").GetInt64() > 0, $"No peak memory: {attempt}");
        Assert.True(attempt.GetProperty("cpu_seconds").GetDouble() >= 0, $"No CPU time: {attempt}");
        Assert.NotEqual(JsonValueKind.Null, attempt.GetProperty("started_at").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, attempt.GetProperty("completed_at").ValueKind);
        Assert.Equal("local", attempt.GetProperty("runtime").GetProperty("kind").GetString());

        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.Equal(200, (int)logs.StatusCode);
        Assert.Equal("text/plain", logs.Content.Headers.ContentType?.MediaType);
        Assert.Contains("hello\n", await logs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_that_exits_with_an_error_fails_once_without_a_retry()
    {
        var (_, client) = await app.TenantClientAsync("failure");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new { name = "broken", entrypoint = "echo about to fail; exit 3" });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);
        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("exited_with_error", done.GetProperty("status_reason").GetString());
        Assert.Contains("3", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.NotEqual(JsonValueKind.Null, done.GetProperty("completed_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, done.GetProperty("output").ValueKind);

        // A user error would fail the same way again: nothing is retried, even after the backoff would have passed.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        var attempt = Assert.Single((await Http.ExpectAsync(response, 200)).EnumerateArray());
        Assert.Equal("failed", attempt.GetProperty("status").GetString());
        Assert.Equal(3, attempt.GetProperty("exit_code").GetInt32());
        Assert.Equal("exited_with_error", attempt.GetProperty("reason").GetString());
        using var get = await client.GetAsync($"/v1/jobs/training/{id}");
        var after = await Http.ExpectAsync(get, 200);
        Assert.Equal(1, after.GetProperty("attempts").GetInt32());
        Assert.Equal("failed", after.GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_job_sees_the_contracts_environment_and_nothing_of_the_servers()
    {
        Assert.Equal(StrataApp.HostOnlyValue, Environment.GetEnvironmentVariable(StrataApp.HostOnlyVariable));
        var (tenant, client) = await app.TenantClientAsync("environment");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "env",
            entrypoint = "env",
            data_path = "datasets/churn.csv",
            hyperparameters = new Dictionary<string, object> { ["learning_rate"] = 0.01, ["epochs"] = 3, ["optimizer"] = "adam" },
            env_vars = new Dictionary<string, string> { ["MY_SETTING"] = "on", ["WITH_SPACES"] = "a b  c" },
        });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        var spec = done.GetProperty("spec");

        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var env = (await logs.Content.ReadAsStringAsync())
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1]);

        Assert.Equal(spec.GetProperty("data_path").GetString(), env["DATA_PATH"]);
        Assert.Equal(Path.Combine(app.DataPath, "artifacts", tenant, "datasets", "churn.csv"), env["DATA_PATH"]);
        Assert.Equal(spec.GetProperty("model_output_path").GetString(), env["MODEL_OUTPUT_PATH"]);
        Assert.Equal("0.01", env["HYPERPARAM_LEARNING_RATE"]);
        Assert.Equal("3", env["HYPERPARAM_EPOCHS"]);
        Assert.Equal("adam", env["HYPERPARAM_OPTIMIZER"]);
        Assert.Equal("on", env["MY_SETTING"]);
        Assert.Equal("a b  c", env["WITH_SPACES"]);
        Assert.Equal(id, env["STRATA_JOB_ID"]);
        Assert.Equal("1", env["STRATA_ATTEMPT"]);
        Assert.Equal(3, env["STRATA_JOB_TOKEN"].Split('.').Length);
        Assert.False(string.IsNullOrEmpty(env["STRATA_API_URL"]));
        Assert.True(Directory.Exists(env["STRATA_CHECKPOINT_DIR"]), $"No checkpoint folder at {env["STRATA_CHECKPOINT_DIR"]}");
        Assert.False(env.ContainsKey(StrataApp.HostOnlyVariable), $"{StrataApp.HostOnlyVariable} leaked from the server into the job.");

        // Nothing else from the server's environment: only the contract, the spec's own variables, and what the shell sets itself.
        string[] allowed =
        [
            "PATH", "LANG", "HOME", "PYTHONUNBUFFERED", "PWD", "SHLVL", "_", "OLDPWD",
            // The Python SDK the local runtime ships to its jobs (Runtime/Local/JobPython).
            "PYTHONPATH",
            "DATA_PATH", "MODEL_OUTPUT_PATH", "MY_SETTING", "WITH_SPACES",
        ];
        var unexpected = env.Keys
            .Where(name => !allowed.Contains(name) && !name.StartsWith("STRATA_", StringComparison.Ordinal) && !name.StartsWith("HYPERPARAM_", StringComparison.Ordinal))
            .ToArray();
        Assert.True(unexpected.Length == 0, "Variables the job contract does not name: " + string.Join(", ", unexpected));
    }

    [Fact]
    public async Task A_cancelled_running_job_is_cancelling_until_its_process_is_gone_then_cancelled_and_cancelling_again_changes_nothing()
    {
        var (_, client) = await app.TenantClientAsync("cancel");
        using var _ = client;
        // It ignores SIGTERM (and so does its sleep): only the SIGKILL at the end of the 2 s grace stops it.
        var job = await StrataApp.SubmitAsync(client, new { name = "forever", entrypoint = "trap '' TERM; echo started; sleep 300" });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForAsync(client, id, j => j.GetProperty("status").GetString() == "running" && j.GetProperty("started_at").ValueKind != JsonValueKind.Null);

        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
            Assert.Empty(await cancel.Content.ReadAsByteArrayAsync());
        }
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}"))
        {
            var cancelling = await Http.ExpectAsync(get, 200);
            Assert.Equal("cancelling", cancelling.GetProperty("status").GetString());
            Assert.Equal("cancelled_by_user", cancelling.GetProperty("status_reason").GetString());
            Assert.Equal(JsonValueKind.Null, cancelling.GetProperty("completed_at").ValueKind);
        }
        using (var again = await client.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)again.StatusCode);
        }

        // The process is stopped (SIGTERM, then SIGKILL after the 2 s grace) and its attempt recorded as cancelled.
        var cancelled = await StrataApp.WaitForStatusAsync(client, id, "cancelled", TimeSpan.FromSeconds(30));
        Assert.Equal("cancelled_by_user", cancelled.GetProperty("status_reason").GetString());
        Assert.NotEqual(JsonValueKind.Null, cancelled.GetProperty("completed_at").ValueKind);
        using (var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts"))
        {
            var attempt = Assert.Single((await Http.ExpectAsync(response, 200)).EnumerateArray());
            Assert.Equal("cancelled", attempt.GetProperty("status").GetString());
            Assert.Equal("cancelled_by_user", attempt.GetProperty("reason").GetString());
            Assert.NotEqual(JsonValueKind.Null, attempt.GetProperty("completed_at").ValueKind);
        }
        using (var again = await client.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)again.StatusCode);
        }
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal("cancelled", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task A_pending_job_is_cancelled_at_once_and_an_ended_one_cannot_be_cancelled()
    {
        var (tenant, client) = await app.TenantClientAsync("cancel-pending");
        using var _ = client;
        using var admin = app.AdminClient();
        // No running jobs allowed: whatever it submits waits for quota.
        using (var quota = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { max_running_jobs = 0 })) await Http.ExpectAsync(quota, 200);
        var waiting = (await StrataApp.SubmitAsync(client, new { name = "waits", entrypoint = "true" })).GetProperty("id").GetString()!;

        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{waiting}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        using (var get = await client.GetAsync($"/v1/jobs/training/{waiting}"))
        {
            var job = await Http.ExpectAsync(get, 200);
            Assert.Equal("cancelled", job.GetProperty("status").GetString());
            Assert.NotEqual(JsonValueKind.Null, job.GetProperty("completed_at").ValueKind);
            Assert.Equal(0, job.GetProperty("attempts").GetInt32());
        }

        using (var quota = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { max_running_jobs = 10 })) await Http.ExpectAsync(quota, 200);
        var done = (await StrataApp.SubmitAsync(client, new { name = "done", entrypoint = "true" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, done, "succeeded");
        using (var ended = await client.DeleteAsync($"/v1/jobs/training/{done}"))
        {
            await Http.ExpectProblemAsync(ended, 409, ProblemTypes.Conflict);
        }
    }

    [Fact]
    public async Task Cancelling_a_missing_job_is_404()
    {
        var (_, client) = await app.TenantClientAsync("cancel-missing");
        using var _ = client;
        using var response = await client.DeleteAsync($"/v1/jobs/training/{Guid.NewGuid()}");
        await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task A_finished_job_cannot_be_cancelled()
    {
        var (_, client) = await app.TenantClientAsync("cancel-done");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "quick", entrypoint = "true" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        using var response = await client.DeleteAsync($"/v1/jobs/training/{id}");
        await Http.ExpectProblemAsync(response, 409, ProblemTypes.Conflict);
        using var get = await client.GetAsync($"/v1/jobs/training/{id}");
        Assert.Equal("succeeded", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Submitting_through_the_typed_contract_round_trips_the_spec()
    {
        var (_, client) = await app.TenantClientAsync("typed");
        using var _ = client;
        var spec = new TrainingJobSpec
        {
            Name = "typed",
            Entrypoint = "true",
            Compute = new ComputeSpec { CpuCores = 2, MemoryGb = 4 },
            Priority = 5,
            Retry = new RetrySpec { MaxAttempts = 1, Backoff = 0 },
            TimeoutSeconds = 60,
            Label = "churned",
        };
        using var response = await client.PostAsJsonAsync("/v1/jobs/training", spec, Http.Json);
        var created = (await Http.ExpectAsync(response, 201)).Deserialize<TrainingJob>(Http.Json)!;
        Assert.Equal(2, created.Spec.Compute!.CpuCores);
        Assert.Equal(4, created.Spec.Compute.MemoryGb);
        Assert.Equal(5, created.Spec.Priority);
        Assert.Equal(1, created.Spec.Retry!.MaxAttempts);
        Assert.Equal(60, created.Spec.TimeoutSeconds);
        Assert.Equal("churned", created.Spec.Label);
        await StrataApp.WaitForStatusAsync(client, created.Id, "succeeded");
    }
}
