using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Auth;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Auth;

/// <summary>A job's token (<c>STRATA_JOB_TOKEN</c>) lives as long as its attempt, through the real scheduler and local runtime.</summary>
public sealed class JobTokenTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private const string PrintsItsTokenAndWaits = "echo \"TOKEN=$STRATA_JOB_TOKEN\"; sleep 300";

    /// <summary>Submits a job that prints its token and waits; returns its id and the token of its first attempt.</summary>
    private static async Task<(string Id, string Token)> StartAsync(HttpClient client, string name, object? compute = null, int priority = 0)
    {
        var job = await StrataApp.SubmitAsync(client, new { name, entrypoint = PrintsItsTokenAndWaits, compute, priority });
        var id = job.GetProperty("id").GetString()!;
        return (id, await StrataApp.PrintedJobTokenAsync(client, id));
    }

    private static async Task CancelAsync(HttpClient client, string id)
    {
        using var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.Equal(204, (int)cancel.StatusCode);
    }

    /// <summary>Polls the job's attempts until attempt <paramref name="number"/> has ended; returns its status.</summary>
    private static async Task<string> WaitForAttemptEndAsync(HttpClient client, string id, int number)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        string? status = null;
        while (DateTimeOffset.UtcNow < deadline)
        {
            using var response = await client.GetAsync($"/v1/jobs/training/{id}/attempts");
            var attempt = (await Http.ExpectAsync(response, 200)).EnumerateArray().FirstOrDefault(a => a.GetProperty("number").GetInt32() == number);
            status = attempt.ValueKind == JsonValueKind.Object ? attempt.GetProperty("status").GetString() : null;
            if (status is not (null or "starting" or "running")) return status;
            await Task.Delay(100);
        }
        Assert.Fail($"Attempt {number} of job {id} did not end in time; last seen: {status}");
        return "";
    }

    /// <summary>What a job does with its token: who am I, report a metric, upload an output.</summary>
    private async Task<(HttpResponseMessage Me, HttpResponseMessage Metrics, HttpResponseMessage Upload)> UseAsync(string token, string id)
    {
        using var job = app.ClientFor(token);
        var me = await job.GetAsync("/v1/me");
        var metrics = await job.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "loss", value = 0.5, step = 1 });
        using var content = new ByteArrayContent("weights"u8.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var upload = await job.PostAsync("/v1/artifacts?name=output.bin", content);
        return (me, metrics, upload);
    }

    private async Task AssertWorksAsync(string token, string id)
    {
        var (me, metrics, upload) = await UseAsync(token, id);
        using var _me = me;
        using var _metrics = metrics;
        using var _upload = upload;
        Assert.Equal(Roles.Job, (await Http.ExpectAsync(me, 200)).GetProperty("role").GetString());
        Assert.Equal(1, (await Http.ExpectAsync(metrics, 200)).GetProperty("recorded").GetInt32());
        await Http.ExpectAsync(upload, 201);
    }

    private async Task AssertRefusedAsync(string token, string id)
    {
        var (me, metrics, upload) = await UseAsync(token, id);
        using var _me = me;
        using var _metrics = metrics;
        using var _upload = upload;
        foreach (var response in new[] { me, metrics, upload })
        {
            await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
            Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
        }
    }

    [Fact]
    public async Task A_running_jobs_token_works_and_is_401_from_the_moment_the_job_is_cancelled()
    {
        var (_, client) = await app.TenantClientAsync("cancelled");
        using var _ = client;
        var (id, token) = await StartAsync(client, "cancelled");
        await AssertWorksAsync(token, id);

        await CancelAsync(client, id);
        // Refused at once, while the attempt may still be stopping (its process gets SIGTERM, then SIGKILL).
        await AssertRefusedAsync(token, id);
        Assert.Equal("cancelled", await WaitForAttemptEndAsync(client, id, 1));
        await AssertRefusedAsync(token, id);
    }

    [Fact]
    public async Task A_jobs_token_is_401_once_the_job_has_succeeded()
    {
        var (_, client) = await app.TenantClientAsync("succeeded");
        using var _ = client;
        var release = Path.Combine(app.SharedPath, "release-" + Guid.NewGuid().ToString("N"));
        var job = await StrataApp.SubmitAsync(client, new { name = "finishes", entrypoint = $"echo \"TOKEN=$STRATA_JOB_TOKEN\"; while [ ! -e '{release}' ]; do sleep 0.1; done" });
        var id = job.GetProperty("id").GetString()!;
        var token = await StrataApp.PrintedJobTokenAsync(client, id);
        await AssertWorksAsync(token, id);

        await File.WriteAllTextAsync(release, "");
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        await AssertRefusedAsync(token, id);
    }

    [Fact]
    public async Task The_token_of_a_preempted_attempt_is_401_and_the_next_attempt_has_a_token_of_its_own()
    {
        var (_, client) = await app.TenantClientAsync("preempted");
        using var _ = client;
        var (low, first) = await StartAsync(client, "low", new { cpu_cores = 8, memory_gb = 1 });
        string? high = null;
        try
        {
            await AssertWorksAsync(first, low);
            high = (await StartAsync(client, "high", new { cpu_cores = 4, memory_gb = 1 }, priority: 10)).Id;
            Assert.Equal("preempted", await WaitForAttemptEndAsync(client, low, 1));
            await AssertRefusedAsync(first, low);

            // Once the urgent job is gone, the preempted one runs again as attempt 2, with a new token.
            await CancelAsync(client, high);
            var again = await StrataApp.WaitForStatusAsync(client, low, "running");
            Assert.Equal(2, again.GetProperty("attempts").GetInt32());
            var second = await StrataApp.PrintedJobTokenAsync(client, low, attempt: 2);
            Assert.NotEqual(first, second);
            await AssertWorksAsync(second, low);
            await AssertRefusedAsync(first, low);
        }
        finally
        {
            foreach (var id in new[] { low, high }.OfType<string>())
            {
                using var __ = await client.DeleteAsync($"/v1/jobs/training/{id}");
            }
        }
    }

    [Fact]
    public async Task A_jobs_token_never_reaches_another_tenant_even_with_that_tenant_in_its_claims()
    {
        var (tenantA, teamA) = await app.TenantClientAsync("token-a");
        var (tenantB, teamB) = await app.TenantClientAsync("token-b");
        using var _a = teamA;
        using var _b = teamB;
        var (jobA, tokenA) = await StartAsync(teamA, "a");
        var (jobB, tokenB) = await StartAsync(teamB, "b");
        try
        {
            using var asA = app.ClientFor(tokenA);
            using (var report = await asA.PostAsJsonAsync($"/v1/jobs/training/{jobB}/metrics", new { name = "loss", value = 1.0 }))
            {
                await Http.ExpectProblemAsync(report, 403, ProblemTypes.Forbidden);
            }
            using (var read = await asA.GetAsync($"/v1/jobs/training/{jobB}"))
            {
                await Http.ExpectProblemAsync(read, 403, ProblemTypes.Forbidden);
            }
            using (var metrics = await teamB.GetAsync($"/v1/jobs/training/{jobB}/metrics"))
            {
                Assert.Empty((await Http.ExpectAsync(metrics, 200)).EnumerateArray());
            }

            // Signed by the server, naming tenant B, for A's live attempt (or B's job under A's name): not an attempt of that tenant.
            foreach (var (tenant, job) in new[] { (tenantB, jobA), (tenantA, jobB) })
            {
                var crossed = TestTokens.Create(app.SigningKey, tenant, role: Roles.Job,
                    claims: new Dictionary<string, object> { [StrataClaims.Job] = job, [StrataClaims.Attempt] = 1 }, tenantUid: app.TenantUid(tenant));
                await AssertRefusedAsync(crossed, job);
            }
            await AssertWorksAsync(tokenA, jobA);
            await AssertWorksAsync(tokenB, jobB);
        }
        finally
        {
            await CancelAsync(teamA, jobA);
            await CancelAsync(teamB, jobB);
        }
    }

    [Fact]
    public async Task A_job_token_with_a_missing_garbage_or_wrong_attempt_is_401()
    {
        var (tenant, client) = await app.TenantClientAsync("forged");
        using var _ = client;
        var (id, _) = await StartAsync(client, "forged");
        try
        {
            string Token(params (string Claim, object Value)[] claims) =>
                TestTokens.Create(app.SigningKey, tenant, role: Roles.Job, claims: claims.ToDictionary(c => c.Claim, c => c.Value), tenantUid: app.TenantUid(tenant));

            // The control: the same recipe naming the live attempt works, so each refusal below is for its one defect.
            await AssertWorksAsync(Token((StrataClaims.Job, id), (StrataClaims.Attempt, 1)), id);
            var refused = new Dictionary<string, string>
            {
                ["no attempt (as issued before attempts were bound)"] = Token((StrataClaims.Job, id)),
                ["no job"] = Token((StrataClaims.Attempt, 1)),
                ["a garbage attempt"] = Token((StrataClaims.Job, id), (StrataClaims.Attempt, "garbage")),
                ["attempt 0"] = Token((StrataClaims.Job, id), (StrataClaims.Attempt, 0)),
                ["a negative attempt"] = Token((StrataClaims.Job, id), (StrataClaims.Attempt, -1)),
                ["a fractional attempt"] = Token((StrataClaims.Job, id), (StrataClaims.Attempt, 1.5)),
                ["an attempt that never ran"] = Token((StrataClaims.Job, id), (StrataClaims.Attempt, 2)),
                ["a job that does not exist"] = Token((StrataClaims.Job, Guid.NewGuid().ToString()), (StrataClaims.Attempt, 1)),
            };
            foreach (var (what, token) in refused)
            {
                using var job = app.ClientFor(token);
                using var response = await job.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new { name = "loss", value = 0.5 });
                Assert.True(401 == (int)response.StatusCode, $"A job token with {what} was answered {(int)response.StatusCode}.");
                await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
            }
        }
        finally
        {
            await CancelAsync(client, id);
        }
    }

    [Fact]
    public async Task Another_replica_refuses_the_token_once_its_short_cache_of_the_live_attempt_lapses()
    {
        var (tenant, client) = await app.TenantClientAsync("replica");
        using var _ = client;
        var (id, _) = await StartAsync(client, "replica");
        // A second replica's view: the same store, its own cache and clock, and no word of the cancel below.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var replica = new LiveAttempts(app.Services.GetRequiredService<Store>(), clock);
        var attempt = new AttemptRef(tenant, id, 1);
        Assert.True(await replica.IsLiveAsync(attempt, CancellationToken.None));

        await CancelAsync(client, id);
        // What it found live it trusts for a moment (docs/decisions.md says how long), then asks the store again.
        Assert.True(await replica.IsLiveAsync(attempt, CancellationToken.None));
        clock.Advance(LiveAttempts.CacheFor);
        Assert.False(await replica.IsLiveAsync(attempt, CancellationToken.None));
        Assert.False(await replica.IsLiveAsync(attempt with { TenantId = "another-tenant" }, CancellationToken.None));
    }
}
