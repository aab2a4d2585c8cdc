using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Recommendations;

/// <summary>A local runtime with two GPUs (listed, not discovered), 16 cores and 64 GB, and gangs of up to 8.</summary>
internal static class TwoGpuSettings
{
    public static readonly Dictionary<string, string?> Values = new()
    {
        ["Runtime:Local:CpuCores"] = "16",
        ["Runtime:Local:MemoryGb"] = "64",
        ["Runtime:Local:MaxWorkersPerJob"] = "8",
        ["Runtime:Local:GpuInventory:0:Uuid"] = "GPU-aaaaaaaa-0000-0000-0000-000000000000",
        ["Runtime:Local:GpuInventory:0:Name"] = "NVIDIA A100-SXM4-80GB",
        ["Runtime:Local:GpuInventory:1:Uuid"] = "GPU-bbbbbbbb-0000-0000-0000-000000000000",
        ["Runtime:Local:GpuInventory:1:Name"] = "NVIDIA A100-SXM4-80GB",
    };
}

public sealed class TwoGpuRecommendationApp() : StrataApp(StorageKind.Sqlite, TwoGpuSettings.Values);

public sealed class TwoGpuPostgresRecommendationApp() : StrataApp(StorageKind.Postgres, TwoGpuSettings.Values);

/// <summary>A local runtime without GPUs (whatever the machine has): 8 cores and 32 GB, one worker per job.</summary>
public sealed class NoGpuRecommendationApp() : StrataApp(StorageKind.Sqlite, new Dictionary<string, string?>
{
    ["Runtime:Local:CpuCores"] = "8",
    ["Runtime:Local:MemoryGb"] = "32",
    ["Runtime:Local:MaxWorkersPerJob"] = "1",
    ["Runtime:Local:NvidiaSmiPath"] = "/nonexistent/nvidia-smi",
});

/// <summary><c>POST /v1/recommendations/compute</c> on a runtime with GPUs: the answers, bad bodies, and who may ask.</summary>
public sealed class RecommendationTests(TwoGpuRecommendationApp app) : IClassFixture<TwoGpuRecommendationApp>
{
    private const string Route = "/v1/recommendations/compute";

    internal static async Task<JsonElement> RecommendAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync(Route, body, Http.Json);
        return await Http.ExpectAsync(response, 200);
    }

    internal static List<string> Reasons(JsonElement answer) => answer.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!).ToList();

    [Fact]
    public async Task A_small_workload_shares_a_gpu_and_says_why()
    {
        var (_, client) = await app.TenantClientAsync("rec-small");
        using var _ = client;

        var answer = await RecommendAsync(client, new { dataset_size_gb = 5, model_params = 50_000_000, framework = "pytorch" });

        Assert.Equal("shared", answer.GetProperty("kind").GetString());
        var compute = answer.GetProperty("compute");
        Assert.Equal("gpu", compute.GetProperty("type").GetString());
        Assert.Equal(0.25, compute.GetProperty("gpu_fraction").GetDouble());
        Assert.Equal(JsonValueKind.Null, compute.GetProperty("gpu_count").ValueKind);
        Assert.Equal(2, compute.GetProperty("cpu_cores").GetInt32());
        Assert.Equal(4, compute.GetProperty("memory_gb").GetInt32());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("distributed").ValueKind);
        Assert.Empty(answer.GetProperty("similar_jobs").EnumerateArray());
        Assert.Equal("dataset 5 GB < 10 GB and 5e7 parameters < 1e8: a small workload, which shares a GPU (0.25 of one)", Reasons(answer)[0]);
    }

    [Fact]
    public async Task A_medium_workload_gets_a_gpu_and_a_large_one_a_gang_of_the_runtimes_gpus()
    {
        var (_, client) = await app.TenantClientAsync("rec-sizes");
        using var _ = client;

        var medium = await RecommendAsync(client, new { dataset_size_gb = 50, model_params = 5e8 });
        Assert.Equal("dedicated", medium.GetProperty("kind").GetString());
        Assert.Equal(1, medium.GetProperty("compute").GetProperty("gpu_count").GetInt32());

        // 7 GPUs wanted; the local runtime has 2: a gang of 2 ranks, one GPU each.
        var large = await RecommendAsync(client, new { dataset_size_gb = 500, model_params = 7e9 });
        Assert.Equal("distributed", large.GetProperty("kind").GetString());
        Assert.Equal(2, large.GetProperty("distributed").GetProperty("num_workers").GetInt32());
        Assert.Equal(1, large.GetProperty("compute").GetProperty("gpu_count").GetInt32());
        Assert.Contains("the runtime has 2 GPUs: 2 instead of 7", Reasons(large));
        Assert.Contains("memory_gb 32 instead of 71: what the runtime's memory allows per worker", Reasons(large));
    }

    [Theory]
    [InlineData("{}", "dataset_size_gb", "model_params")]
    [InlineData("""{"model_params": 5e7}""", "dataset_size_gb")]
    [InlineData("""{"dataset_size_gb": -1, "model_params": 5e7}""", "dataset_size_gb")]
    [InlineData("""{"dataset_size_gb": 2e6, "model_params": 5e7}""", "dataset_size_gb")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 0}""", "model_params")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 1.5}""", "model_params")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 1e20}""", "model_params")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 5e7, "framework": "keras"}""", "framework")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 5e7, "framework": "PyTorch"}""", "framework")]
    [InlineData("""{"dataset_size_gb": -5, "model_params": -5, "framework": ""}""", "dataset_size_gb", "model_params", "framework")]
    public async Task A_bad_field_is_a_validation_problem_naming_it(string body, params string[] fields)
    {
        var (_, client) = await app.TenantClientAsync("rec-bad");
        using var _ = client;

        using var response = await client.PostRawAsync(Route, body);

        await Http.ExpectValidationAsync(response, fields);
    }

    [Theory]
    [InlineData("""{"dataset_size_gb": 1e400, "model_params": 5e7}""")] // beyond a double
    [InlineData("""{"dataset_size_gb": NaN, "model_params": 5e7}""")]
    [InlineData("""{"dataset_size_gb": "5", "model_params": 5e7}""")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 5e7, "framework": 3}""")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 5e7, "gpus": 2}""")] // an unknown field
    [InlineData("""[5, 5e7]""")]
    [InlineData("""{"dataset_size_gb": 5, "model_params": 5e7, "framework": "py\u0000torch"}""")]
    public async Task A_body_that_is_not_a_request_is_a_malformed_problem(string body)
    {
        var (_, client) = await app.TenantClientAsync("rec-malformed");
        using var _ = client;

        using var response = await client.PostRawAsync(Route, body);

        var status = (int)response.StatusCode;
        Assert.True(status == 400, $"{body} -> {status}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_body_over_4_KiB_is_refused_with_413()
    {
        var (_, client) = await app.TenantClientAsync("rec-large");
        using var _ = client;

        using var response = await client.PostRawAsync(Route, $$"""{"dataset_size_gb": 5, "model_params": 5e7, "framework": "{{new string('x', 5000)}}"}""");

        await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
    }

    [Fact]
    public async Task Only_members_and_owners_of_a_tenant_may_ask()
    {
        var (tenant, member) = await app.TenantClientAsync("rec-who");
        using var _ = member;
        var body = new { dataset_size_gb = 5, model_params = 5e7 };
        await RecommendAsync(member, body);
        using (var owner = app.ClientFor(await app.TokenForAsync(tenant, Roles.Owner)))
        {
            await RecommendAsync(owner, body);
        }

        using (var anonymous = app.AnonymousClient())
        using (var response = await anonymous.PostAsJsonAsync(Route, body, Http.Json))
        {
            await Http.ExpectProblemAsync(response, 401, ProblemTypes.Unauthenticated);
        }
        using (var viewer = app.ClientFor(await app.TokenForAsync(tenant, Roles.Viewer)))
        using (var response = await viewer.PostAsJsonAsync(Route, body, Http.Json))
        {
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }
        // An admin belongs to no tenant: there is no history to read.
        using (var admin = app.AdminClient())
        using (var response = await admin.PostAsJsonAsync(Route, body, Http.Json))
        {
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }

        // A job's own token may report on its job, not ask for compute.
        var job = (await StrataApp.SubmitAsync(member, new
        {
            name = "token-printer",
            entrypoint = "echo \"TOKEN=$STRATA_JOB_TOKEN\"; sleep 300",
            compute = new { cpu_cores = 1, memory_gb = 1 },
        })).GetProperty("id").GetString()!;
        try
        {
            using var jobClient = app.ClientFor(await StrataApp.PrintedJobTokenAsync(member, job));
            using var response = await jobClient.PostAsJsonAsync(Route, body, Http.Json);
            await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
        }
        finally
        {
            using var cancel = await member.DeleteAsync($"/v1/jobs/training/{job}");
        }
    }
}

/// <summary>
/// The tenant's history refining the answer, on SQLite and on PostgreSQL: similar jobs' peak memory and GPU use,
/// and only the caller's tenant's jobs.
/// </summary>
public abstract class RecommendationHistoryTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    [SkippableFact]
    public async Task Similar_jobs_peak_memory_sets_memory_with_headroom_and_is_named()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("rec-history");
        using var _ = client;
        var body = new { dataset_size_gb = 50, model_params = 5e8 };
        Assert.Equal(22, (await RecommendationTests.RecommendAsync(client, body)).GetProperty("compute").GetProperty("memory_gb").GetInt32());

        var similar = await AddSucceededJobAsync(tenant, gpus: 1, peakGb: 9.5);
        await AddSucceededJobAsync(tenant, gpus: 0, peakGb: 40); // a CPU job: another shape

        var answer = await RecommendationTests.RecommendAsync(client, body);
        Assert.Equal("dedicated", answer.GetProperty("kind").GetString());
        Assert.Equal(12, answer.GetProperty("compute").GetProperty("memory_gb").GetInt32());
        Assert.Equal([similar], answer.GetProperty("similar_jobs").EnumerateArray().Select(j => j.GetString()));
        Assert.Contains("1 similar job of yours peaked at 9.5 GB: memory_gb 12 (the peak plus 25% headroom) instead of the estimate 22", RecommendationTests.Reasons(answer));
    }

    [SkippableFact]
    public async Task Another_tenants_history_never_changes_the_answer()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenantA, clientA) = await app.TenantClientAsync("rec-a");
        var (tenantB, clientB) = await app.TenantClientAsync("rec-b");
        using var _a = clientA;
        using var _b = clientB;
        var body = new { dataset_size_gb = 50, model_params = 5e8 };
        await AddSucceededJobAsync(tenantA, gpus: 1, peakGb: 3);
        var before = (await RecommendationTests.RecommendAsync(clientA, body)).GetRawText();

        // Tenant B's similar jobs used far more memory and left their GPUs idle.
        var jobB = await AddSucceededJobAsync(tenantB, gpus: 1, peakGb: 40, gpuBusy: 0.05);
        var seenByB = await RecommendationTests.RecommendAsync(clientB, body);
        Assert.Equal("shared", seenByB.GetProperty("kind").GetString());
        Assert.Equal(50, seenByB.GetProperty("compute").GetProperty("memory_gb").GetInt32());
        Assert.Equal([jobB], seenByB.GetProperty("similar_jobs").EnumerateArray().Select(j => j.GetString()));

        var after = await RecommendationTests.RecommendAsync(clientA, body);
        Assert.Equal(before, after.GetRawText());
        Assert.Equal(4, after.GetProperty("compute").GetProperty("memory_gb").GetInt32());
        Assert.DoesNotContain(jobB, after.GetProperty("similar_jobs").EnumerateArray().Select(j => j.GetString()));
    }

    /// <summary>
    /// A succeeded job as the runtime would have left it, written straight into the store: its peak memory and GPU
    /// use are what a real run measures, fixed here so that the answer is exact.
    /// </summary>
    private async Task<string> AddSucceededJobAsync(string tenant, int gpus, double peakGb, double? gpuBusy = null)
    {
        var id = Guid.NewGuid().ToString("N");
        var spec = new TrainingJobSpec
        {
            Name = StrataApp.UniqueId("past"),
            Entrypoint = "python train.py",
            Compute = new ComputeSpec { Type = gpus > 0 ? ComputeTypes.Gpu : ComputeTypes.Cpu, CpuCores = 4, MemoryGb = 32, GpuCount = gpus > 0 ? gpus : null },
        };
        var now = DateTimeOffset.UtcNow;
        await using var db = app.Services.GetRequiredService<Store>().CreateContext();
        db.Jobs.Add(new JobRecord
        {
            Id = id,
            TenantId = tenant,
            Name = spec.Name,
            Status = JobStatus.Succeeded,
            CpuCores = 4,
            MemoryBytes = 32 * ResourceRequest.BytesPerGb,
            Gpus = gpus,
            SpecJson = JobRecord.WriteSpec(spec),
            CreatedAt = now,
            CompletedAt = now,
            AttemptCount = 1,
            MeasuredPeakMemoryBytes = (long)(peakGb * ResourceRequest.BytesPerGb),
        });
        db.Attempts.Add(new AttemptRecord
        {
            JobId = id,
            Number = 1,
            TenantId = tenant,
            Status = AttemptStatus.Succeeded,
            CreatedAt = now,
            CompletedAt = now,
            PeakMemoryBytes = (long)(peakGb * ResourceRequest.BytesPerGb),
            ReservedGpuSeconds = gpus * 100,
            UsedGpuSeconds = gpuBusy is { } busy ? busy * gpus * 100 : gpus * 100,
        });
        await db.SaveChangesAsync();
        return id;
    }
}

public sealed class SqliteRecommendationHistoryTests(TwoGpuRecommendationApp app) : RecommendationHistoryTests<TwoGpuRecommendationApp>(app);

public sealed class PostgresRecommendationHistoryTests(TwoGpuPostgresRecommendationApp app) : RecommendationHistoryTests<TwoGpuPostgresRecommendationApp>(app);

/// <summary>The same route on a runtime without GPUs: CPU compute.</summary>
public sealed class NoGpuRecommendationTests(NoGpuRecommendationApp app) : IClassFixture<NoGpuRecommendationApp>
{
    [Theory]
    [InlineData(5, 5e7, "shared", 2, 4)]
    [InlineData(50, 5e8, "dedicated", 8, 22)]
    [InlineData(500, 5e9, "dedicated", 8, 32)] // 16 cores and 93 GB wanted: the runtime's 8 and 32
    public async Task A_runtime_without_gpus_answers_cpu_compute(double datasetGb, double parameters, string kind, int cores, int memoryGb)
    {
        var (_, client) = await app.TenantClientAsync("rec-cpu");
        using var _ = client;

        var answer = await RecommendationTests.RecommendAsync(client, new { dataset_size_gb = datasetGb, model_params = parameters });

        Assert.Equal(kind, answer.GetProperty("kind").GetString());
        var compute = answer.GetProperty("compute");
        Assert.Equal("cpu", compute.GetProperty("type").GetString());
        Assert.Equal(cores, compute.GetProperty("cpu_cores").GetInt32());
        Assert.Equal(memoryGb, compute.GetProperty("memory_gb").GetInt32());
        Assert.Equal(JsonValueKind.Null, compute.GetProperty("gpu_count").ValueKind);
        Assert.Equal(JsonValueKind.Null, compute.GetProperty("gpu_fraction").ValueKind);
        Assert.Contains("the runtime has no GPUs: CPU compute, sized from the dataset and the model",
            answer.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
    }
}
