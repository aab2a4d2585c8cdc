using k8s;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Strata.Server.Runtime.Kubernetes;
using Strata.Server.Storage;

namespace Strata.Kubernetes.Tests;

/// <summary>
/// The Kubernetes runtime's parts wired as the server wires them, against a <see cref="FakeKubernetesApi"/>
/// and a real SQLite store (for the tenants the provisioner reads). <see cref="NewRuntime"/> makes another
/// runtime instance on the same cluster and store: a restarted server.
/// </summary>
public sealed class ClusterHarness : IAsyncDisposable
{
    private readonly string _folder;
    private readonly List<IDisposable> _owned = [];

    private ClusterHarness(FakeKubernetesApi api, Store store, string folder)
    {
        _folder = folder;
        Api = api;
        Store = store;
    }

    public FakeKubernetesApi Api { get; }

    public Store Store { get; }

    public KubernetesRuntimeOptions Options { get; } = new() { ResyncSeconds = 3600, DefaultImage = "strata:test" };

    public static async Task<ClusterHarness> StartAsync()
    {
        var api = await FakeKubernetesApi.StartAsync();
        var folder = Path.Combine(Path.GetTempPath(), "strata-k8s-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        var options = new DbContextOptionsBuilder<SqliteStrataDbContext>().UseSqlite($"Data Source={Path.Combine(folder, "strata.db")}").Options;
        var factory = new PooledDbContextFactory<SqliteStrataDbContext>(options);
        await using (var db = factory.CreateDbContext())
        {
            await db.Database.MigrateAsync();
        }
        return new ClusterHarness(api, new Store(factory, "sqlite"), folder);
    }

    public async Task AddTenantAsync(string id, string? costCenter = null)
    {
        await using var db = Store.CreateContext();
        db.Tenants.Add(new TenantRecord { Id = id, Name = id, CostCenter = costCenter, CreatedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync();
    }

    public async Task RemoveTenantAsync(string id)
    {
        await using var db = Store.CreateContext();
        await db.Tenants.Where(t => t.Id == id).ExecuteDeleteAsync();
    }

    public ClusterApi NewClusterApi()
    {
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = Api.Url });
        _owned.Add(client);
        return new ClusterApi(client, TimeProvider.System, NullLogger<ClusterApi>.Instance);
    }

    public TenantProvisioner NewProvisioner(ClusterApi? api = null) =>
        new(api ?? NewClusterApi(), Store, Microsoft.Extensions.Options.Options.Create(Options),
            new Strata.Server.Quotas.TenantQuotas(Store, Microsoft.Extensions.Options.Options.Create(new Strata.Server.Quotas.QuotaDefaults())),
            TimeProvider.System, NullLogger<TenantProvisioner>.Instance);

    /// <summary>A runtime as a freshly started server has it: its own client, watch and memory.</summary>
    public (KubernetesJobRuntime Runtime, JobWatcher Watcher) NewRuntime()
    {
        var api = NewClusterApi();
        var watcher = new JobWatcher(api, Options, TimeProvider.System, NullLogger<JobWatcher>.Instance);
        var runtime = new KubernetesJobRuntime(api, watcher, new ClusterCapacity(api, Options, TimeProvider.System, NullLogger<ClusterCapacity>.Instance), NewProvisioner(api), Microsoft.Extensions.Options.Options.Create(Options), TimeProvider.System, NullLogger<KubernetesJobRuntime>.Instance);
        _owned.Add(runtime);
        return (runtime, watcher);
    }

    /// <summary>The placeholder pods of the jobs waiting in <paramref name="queue"/>, as the leader keeps them.</summary>
    public PlaceholderPods NewPlaceholders(Strata.Server.Queue.JobQueue queue) =>
        new(NewClusterApi(), queue, Microsoft.Extensions.Options.Options.Create(Options), TimeProvider.System, NullLogger<PlaceholderPods>.Instance);

    /// <summary>Waits for a condition with a generous limit (never a timing assertion).</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Timed out waiting for: " + what);
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in _owned) item.Dispose();
        await Api.DisposeAsync();
        SqliteConnectionPoolClear();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void SqliteConnectionPoolClear() => Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
}
