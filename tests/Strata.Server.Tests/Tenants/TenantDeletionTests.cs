using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Deployments;
using Strata.Server.Runtime;
using Strata.Server.Tests.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Tenants;

/// <summary>
/// Holds a tenant's deletion at its runtime step (where Kubernetes would wait for the namespace to go) for as
/// long as a test says, so that what a deleting tenant looks like can be seen without racing the deletion.
/// </summary>
public sealed class TeardownGate : ITenantTeardown
{
    private readonly ConcurrentDictionary<string, bool> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _reached = new(StringComparer.Ordinal);

    public void Hold(string tenantId) => _held[tenantId] = true;

    public void Release(string tenantId) => _held.TryRemove(tenantId, out _);

    /// <summary>True once a deletion of the tenant got as far as the gate: its deployments and jobs were stopped.</summary>
    public bool Reached(string tenantId) => _reached.ContainsKey(tenantId);

    public Task<bool> TearDownAsync(string tenantId, CancellationToken cancellationToken)
    {
        _reached[tenantId] = true;
        return Task.FromResult(!_held.ContainsKey(tenantId));
    }
}

/// <summary>A deployment app whose tenant deletions can be held at the runtime step (<see cref="TeardownGate"/>).</summary>
public class TenantDeletionApp : DeploymentApp
{
    public TenantDeletionApp() : this(StorageKind.Sqlite)
    {
    }

    protected TenantDeletionApp(StorageKind storage) : base(storage, new Dictionary<string, string?>())
    {
    }

    public TeardownGate Gate { get; } = new();

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<ITenantTeardown>(Gate);
}

public sealed class PostgresTenantDeletionApp : TenantDeletionApp
{
    public PostgresTenantDeletionApp() : base(StorageKind.Postgres) { }
}

/// <summary>
/// Deleting a tenant (issue 15): one lifecycle that stops and removes everything the tenant owned, shows
/// <c>deleting</c> until it is done, survives a restart, refuses every token of the tenant, and leaves nothing
/// for a tenant created again under the same id, nor touches another tenant.
/// </summary>
public abstract class TenantDeletionTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : TenantDeletionApp
{
    private const string PrintsItsTokenAndWaits = "echo \"TOKEN=$STRATA_JOB_TOKEN\"; sleep 300";
    private static readonly object OneCore = new { cpu_cores = 1, memory_gb = 1 };

    [SkippableFact]
    public async Task A_deleted_tenant_leaves_nothing_behind_refuses_its_tokens_and_its_id_starts_empty()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        using var admin = app.AdminClient();
        var tenant = await app.CreateTenantAsync(StrataApp.UniqueId("del"));
        var old = new Dictionary<string, string>
        {
            [Roles.Owner] = await app.TokenForAsync(tenant, Roles.Owner),
            [Roles.Member] = await app.TokenForAsync(tenant, Roles.Member),
            [Roles.Viewer] = await app.TokenForAsync(tenant, Roles.Viewer),
        };
        // Another tenant, with a job and a deployment of its own, which the deletion must not touch.
        var (other, otherClient) = await app.TenantClientAsync("bystander");
        using var _ = otherClient;
        var otherJob = await StartJobAsync(otherClient, "bystander");
        await DeployAsync(otherClient, other);

        string jobId, attemptFolder;
        using (var member = app.ClientFor(old[Roles.Member]))
        {
            await DeployAsync(member, tenant);
            jobId = await StartJobAsync(member, "doomed");
            old[Roles.Job] = await StrataApp.PrintedJobTokenAsync(member, jobId);
            using var get = await member.GetAsync($"/v1/jobs/training/{jobId}");
            attemptFolder = Path.Combine(app.DataPath, "attempts", tenant, (await Http.ExpectAsync(get, 200)).GetProperty("runtime").GetProperty("name").GetString()!);
            Assert.True(Directory.Exists(attemptFolder), $"No attempt folder at {attemptFolder}.");
        }
        await AssertWorkAsync(old);

        app.Gate.Hold(tenant);
        using (var deleted = await admin.DeleteAsync($"/v1/tenants/{tenant}"))
        {
            var body = await Http.ExpectAsync(deleted, 202);
            Assert.Equal($"/v1/tenants/{tenant}", deleted.Headers.Location?.OriginalString);
            Assert.Equal(TenantStatuses.Deleting, body.GetProperty("status").GetString());
            Assert.NotEqual(JsonValueKind.Null, body.GetProperty("deleting_since").ValueKind);
        }

        // While it is being deleted: visible as such to the admin, its tokens refused, its id not free.
        await AssertRefusedAsync(old);
        using (var get = await admin.GetAsync($"/v1/tenants/{tenant}"))
        {
            Assert.Equal(TenantStatuses.Deleting, (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }
        using (var list = await admin.GetAsync("/v1/tenants"))
        {
            Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray(),
                t => t.GetProperty("id").GetString() == tenant && t.GetProperty("status").GetString() == TenantStatuses.Deleting);
        }
        using (var again = await admin.DeleteAsync($"/v1/tenants/{tenant}"))
        {
            await Http.ExpectAsync(again, 202);
        }
        using (var create = await admin.PostAsJsonAsync("/v1/tenants", new { id = tenant }))
        {
            await Http.ExpectProblemAsync(create, 409, ProblemTypes.Conflict);
        }
        using (var token = await admin.PostAsJsonAsync($"/v1/tenants/{tenant}/tokens", new { role = Roles.Member }))
        {
            await Http.ExpectProblemAsync(token, 409, ProblemTypes.Conflict);
        }
        await EventuallyAsync(() => app.Gate.Reached(tenant), "the deletion reached the runtime step");
        // Its deployment's replicas and its job's attempt are stopped before the runtime step.
        Assert.DoesNotContain(Runtime.Deployments(), k => k.TenantId == tenant);
        using (var get = await admin.GetAsync($"/v1/tenants/{tenant}"))
        {
            Assert.Equal(TenantStatuses.Deleting, (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }

        app.Gate.Release(tenant);
        await app.WaitForTenantGoneAsync(tenant);
        Assert.False(Directory.Exists(attemptFolder), "The deleted tenant's attempt folder is still there.");
        Assert.False(Directory.Exists(Path.Combine(app.DataPath, "models", tenant)), "The deleted tenant's model files are still there.");
        using (var db = app.Services.GetRequiredService<Strata.Server.Storage.Store>().CreateContext())
        {
            Assert.False(await db.Jobs.AnyAsync(j => j.TenantId == tenant));
            Assert.False(await db.Attempts.AnyAsync(a => a.TenantId == tenant));
            Assert.False(await db.ModelVersions.AnyAsync(v => v.TenantId == tenant));
            Assert.False(await db.Deployments.AnyAsync(d => d.TenantId == tenant));
        }

        // The same id again, with a quota of exactly one 1-core job: nothing of the old tenant is counted against it.
        using (var created = await admin.PostAsJsonAsync("/v1/tenants", new { id = tenant, quota = new { cpu_cores = 1, memory_gb = 1 } }))
        {
            Assert.Equal(TenantStatuses.Active, (await Http.ExpectAsync(created, 201)).GetProperty("status").GetString());
        }
        await AssertRefusedAsync(old);
        using (var member = app.ClientFor(await app.TokenForAsync(tenant, Roles.Member)))
        {
            foreach (var route in new[] { "/v1/jobs/training", "/v1/deployments", "/v1/models", "/v1/artifacts" })
            {
                using var list = await member.GetAsync(route);
                Assert.True((await Http.ExpectAsync(list, 200)).GetArrayLength() == 0, $"{route} of the new tenant is not empty.");
            }
            using (var predict = await member.PostAsJsonAsync("/v1/deployments/churn/predict", DeploymentTests.Instance))
            {
                await Http.ExpectProblemAsync(predict, 404, ProblemTypes.NotFound);
            }
            var first = await StartJobAsync(member, "first");
            await CancelAsync(member, first);
        }

        // The other tenant's job still runs and its deployment still answers.
        using (var job = await otherClient.GetAsync($"/v1/jobs/training/{otherJob}"))
        {
            Assert.Equal("running", (await Http.ExpectAsync(job, 200)).GetProperty("status").GetString());
        }
        Assert.Contains(Runtime.Deployments(), k => k.TenantId == other);
        using (var predict = await otherClient.PostAsJsonAsync("/v1/deployments/churn/predict", DeploymentTests.Instance))
        {
            await Http.ExpectAsync(predict, 200);
        }
        await CancelAsync(otherClient, otherJob);
        await app.DeleteTenantAsync(other);
    }

    [SkippableFact]
    public async Task A_deletion_that_a_stopped_server_left_unfinished_is_finished_by_the_next_one()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        await using var own = new StrataApp(app.Storage);
        await own.StartIfNeededAsync();
        var (tenant, client) = await own.TenantClientAsync("resumed");
        using var _ = client;
        var member = client.DefaultRequestHeaders.Authorization!.Parameter!;
        var jobId = await StartJobAsync(client, "adopted");
        using (var content = new ByteArrayContent("weights"u8.ToArray()))
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var upload = await client.PostAsync("/v1/artifacts?name=weights.bin", content);
            await Http.ExpectAsync(upload, 201);
        }
        string attemptFolder;
        using (var get = await client.GetAsync($"/v1/jobs/training/{jobId}"))
        {
            attemptFolder = Path.Combine(own.DataPath, "attempts", tenant, (await Http.ExpectAsync(get, 200)).GetProperty("runtime").GetProperty("name").GetString()!);
        }

        // What a server that crashed right after accepting the DELETE leaves: the tenant marked deleting, nothing
        // else done; the job's supervisor outlives the server and is adopted by the next one.
        await own.RestartAsync(async store =>
        {
            await using var db = store.CreateContext();
            var record = await db.Tenants.SingleAsync(t => t.Id == tenant);
            record.DeletingSince = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync();
        });

        using (var refused = own.ClientFor(member))
        using (var me = await refused.GetAsync("/v1/me"))
        {
            await Http.ExpectProblemAsync(me, 401, ProblemTypes.Unauthenticated);
        }
        await own.WaitForTenantGoneAsync(tenant);
        Assert.False(Directory.Exists(attemptFolder), "The deleted tenant's attempt folder is still there.");
        Assert.False(Directory.Exists(Path.Combine(own.DataPath, "artifacts", tenant)), "The deleted tenant's artifacts are still there.");

        await own.CreateTenantAsync(tenant);
        using (var refused = own.ClientFor(member))
        using (var me = await refused.GetAsync("/v1/me"))
        {
            await Http.ExpectProblemAsync(me, 401, ProblemTypes.Unauthenticated);
        }
        using var newcomer = own.ClientFor(await own.TokenForAsync(tenant, Roles.Member));
        foreach (var route in new[] { "/v1/jobs/training", "/v1/artifacts" })
        {
            using var list = await newcomer.GetAsync(route);
            Assert.True((await Http.ExpectAsync(list, 200)).GetArrayLength() == 0, $"{route} of the new tenant is not empty.");
        }
    }

    private IDeploymentRuntime Runtime => app.Services.GetRequiredService<IDeploymentRuntime>();

    /// <summary>Registers the churn model and deploys it (one replica), and waits until it answers.</summary>
    private async Task DeployAsync(HttpClient client, string tenant)
    {
        await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 1, max_replicas = 1 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "churn", d => DeploymentTests.IsReadyAt(d, 1, 1));
        using var predict = await client.PostAsJsonAsync("/v1/deployments/churn/predict", DeploymentTests.Instance);
        await Http.ExpectAsync(predict, 200);
    }

    /// <summary>Submits a 1-core job that prints its token and waits, and returns its id once it runs.</summary>
    private static async Task<string> StartJobAsync(HttpClient client, string name)
    {
        var id = (await StrataApp.SubmitAsync(client, new { name, entrypoint = PrintsItsTokenAndWaits, compute = OneCore })).GetProperty("id").GetString()!;
        await StrataApp.WaitForAsync(client, id, j => j.GetProperty("status").GetString() == "running"
            && j.GetProperty("runtime").ValueKind == JsonValueKind.Object && j.GetProperty("runtime").GetProperty("name").ValueKind == JsonValueKind.String);
        return id;
    }

    private static async Task CancelAsync(HttpClient client, string id)
    {
        using var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}");
        Assert.True(cancel.IsSuccessStatusCode, $"Cancelling job {id} was answered {(int)cancel.StatusCode}.");
    }

    /// <summary>Each token works: who am I, and (the job's) an upload into its tenant.</summary>
    private async Task AssertWorkAsync(Dictionary<string, string> tokens)
    {
        foreach (var (role, token) in tokens)
        {
            using var client = app.ClientFor(token);
            using var me = await client.GetAsync("/v1/me");
            Assert.True(me.IsSuccessStatusCode, $"The {role} token was answered {(int)me.StatusCode} before the deletion.");
        }
    }

    /// <summary>Each token is refused (401), on reading and, for the job's, on uploading into the tenant.</summary>
    private async Task AssertRefusedAsync(Dictionary<string, string> tokens)
    {
        foreach (var (role, token) in tokens)
        {
            using var client = app.ClientFor(token);
            using (var me = await client.GetAsync("/v1/me"))
            {
                Assert.True(401 == (int)me.StatusCode, $"The old {role} token was answered {(int)me.StatusCode}.");
            }
            using (var jobs = await client.GetAsync("/v1/jobs/training"))
            {
                Assert.True(401 == (int)jobs.StatusCode, $"The old {role} token listed jobs: {(int)jobs.StatusCode}.");
            }
            using var content = new ByteArrayContent("weights"u8.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var upload = await client.PostAsync("/v1/artifacts?name=output.bin", content);
            Assert.True(401 == (int)upload.StatusCode, $"The old {role} token uploaded: {(int)upload.StatusCode}.");
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTimeOffset.UtcNow > deadline) Assert.Fail($"Not in time: {what}.");
            await Task.Delay(100);
        }
    }
}

public sealed class SqliteTenantDeletionTests(TenantDeletionApp app) : TenantDeletionTests<TenantDeletionApp>(app);

public sealed class PostgresTenantDeletionTests(PostgresTenantDeletionApp app) : TenantDeletionTests<PostgresTenantDeletionApp>(app);
