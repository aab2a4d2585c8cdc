using System.Net.Http.Json;
using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Attempts;

/// <summary>Failed attempts on the local runtime are classified, and their class decides the job's next step (docs/retries.md).</summary>
public sealed class FailureClassificationTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly int[] RetryOn = [75];

    [SkippableFact]
    public async Task A_ValueError_fails_without_a_retry_quoting_the_exception()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "python3 raises the exception");
        var (_, client) = await app.TenantClientAsync("valueerror");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "raises",
            retry = new { max_attempts = 3, backoff_seconds = 0 },
            entrypoint = "python3 -c \"print('loading'); raise ValueError('bad row 7')\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("exited_with_error", done.GetProperty("status_reason").GetString());
        var message = done.GetProperty("error_message").GetString()!;
        Assert.Contains("ValueError: bad row 7", message, StringComparison.Ordinal);
        Assert.Contains("user_error", message, StringComparison.Ordinal);
        var attempt = Assert.Single(await AttemptsAsync(client, id));
        Assert.Equal("exited_with_error", attempt.GetProperty("outcome").GetString());
        Assert.Equal("user_error", attempt.GetProperty("classification").GetString());
        Assert.Equal("fail", attempt.GetProperty("decision").GetString());
        Assert.Contains("ValueError: bad row 7", attempt.GetProperty("error_message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exit_code_listed_in_retry_on_exit_codes_is_retried_as_an_infrastructure_failure()
    {
        var (_, client) = await app.TenantClientAsync("flaky");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "flaky",
            retry = new { max_attempts = 2, backoff_seconds = 0, retry_on_exit_codes = RetryOn },
            entrypoint = "exit 75",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Contains("infrastructure: not retried: 2 attempts used", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        var attempts = await AttemptsAsync(client, id);
        Assert.Equal(2, attempts.Length);
        Assert.All(attempts, a => Assert.Equal("infrastructure", a.GetProperty("classification").GetString()));
        Assert.Equal(["retry", "fail"], attempts.OrderBy(a => a.GetProperty("number").GetInt32()).Select(a => a.GetProperty("decision").GetString()));
    }

    [Fact]
    public async Task A_time_out_is_retried_when_the_spec_says_on_timeout_retry()
    {
        var (_, client) = await app.TenantClientAsync("slow");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "slow",
            timeout_seconds = 1,
            retry = new { max_attempts = 2, backoff_seconds = 0, on_timeout = "retry" },
            entrypoint = "sleep 60",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id);

        Assert.Equal("timed_out", done.GetProperty("status_reason").GetString());
        var attempts = (await AttemptsAsync(client, id)).OrderBy(a => a.GetProperty("number").GetInt32()).ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.All(attempts, a => Assert.Equal("timed_out", a.GetProperty("classification").GetString()));
        Assert.Equal(["retry", "fail"], attempts.Select(a => a.GetProperty("decision").GetString()));
    }

    [SkippableFact]
    public async Task An_out_of_memory_attempt_is_retried_with_one_and_a_half_times_the_memory()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "python3 allocates the memory");
        var (tenant, client) = await app.TenantClientAsync("grows");
        using var _ = client;
        // 1.5 GiB touched page by page: over 1 GB, within 2.
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "grows",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            retry = new { max_attempts = 2, backoff_seconds = 0 },
            entrypoint = "python3 -c \"b = bytearray(3 * 1024**3 // 2); b[::4096] = b'x' * len(b[::4096]); print('ALLOCATED', len(b))\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(2));
        var workerLog = File.ReadAllText(Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1", "worker.log"));
        Skip.If(workerLog.Contains("measured-only", StringComparison.Ordinal), $"no writable cgroup hierarchy here: {workerLog.Split('\n')[0]}");

        var attempts = (await AttemptsAsync(client, id)).OrderBy(a => a.GetProperty("number").GetInt32()).ToArray();
        Assert.True(attempts.Length == 2, $"two attempts: {done}");
        Assert.Equal("out_of_memory", attempts[0].GetProperty("classification").GetString());
        Assert.Equal("retry", attempts[0].GetProperty("decision").GetString());
        Assert.Equal(1, attempts[0].GetProperty("effective_compute").GetProperty("memory_gb").GetDouble());
        Assert.Equal(2, attempts[1].GetProperty("effective_compute").GetProperty("memory_gb").GetDouble());
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        // The spec stays as written.
        Assert.Equal(1, done.GetProperty("spec").GetProperty("compute").GetProperty("memory_gb").GetInt32());
    }

    [SkippableFact]
    public async Task An_out_of_memory_attempt_fails_saying_so_when_the_quota_cannot_grant_more_memory()
    {
        Skip.IfNot(File.Exists("/usr/bin/python3"), "python3 allocates the memory");
        var (tenant, client) = await app.TenantClientAsync("tight");
        using var _ = client;
        using (var admin = app.AdminClient())
        using (var response = await admin.PutAsJsonAsync($"/v1/tenants/{tenant}/quota", new { memory_gb = 1.5 }))
        {
            await Http.ExpectAsync(response, 200);
        }
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "tight",
            compute = new { cpu_cores = 1, memory_gb = 1 },
            retry = new { max_attempts = 3, backoff_seconds = 0 },
            entrypoint = "python3 -c \"b = bytearray(3 * 1024**3 // 2); b[::4096] = b'x' * len(b[::4096]); print('ALLOCATED', len(b))\"",
        });
        var id = job.GetProperty("id").GetString()!;

        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(2));
        var workerLog = File.ReadAllText(Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1", "worker.log"));
        Skip.If(workerLog.Contains("measured-only", StringComparison.Ordinal), $"no writable cgroup hierarchy here: {workerLog.Split('\n')[0]}");

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("out_of_memory", done.GetProperty("status_reason").GetString());
        Assert.Contains("a retry needs 2 GB of memory, more than the tenant's quota and the runtime's capacity grant (1.5 GB)",
            done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        var attempt = Assert.Single(await AttemptsAsync(client, id));
        Assert.Equal("fail", attempt.GetProperty("decision").GetString());
    }

    private static async Task<JsonElement[]> AttemptsAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
        return [.. (await Http.ExpectAsync(response, 200)).EnumerateArray()];
    }
}
