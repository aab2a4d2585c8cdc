using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Usage;
using Strata.Server.Storage;

namespace Strata.Server.Usage;

/// <summary>
/// The usage report of a window (docs/usage.md), from the store: jobs count the attempts that ended in the
/// window; deployments count the part of their replicas' intervals inside it. Read by <c>GET /v1/usage</c>
/// and the dashboard's quota page.
/// </summary>
public sealed class UsageReports(Store store, IOptions<UsageOptions> options)
{
    private const long DayMs = 86_400_000;

    /// <summary>The report of [<paramref name="from"/>, <paramref name="to"/>).</summary>
    /// <param name="tenant">One tenant, or null for every tenant with usage in the window.</param>
    /// <param name="limit">How many of the costliest jobs, and of the costliest deployments, to list.</param>
    public async Task<UsageReport> GetAsync(DateTimeOffset from, DateTimeOffset to, string? tenant, int limit, CancellationToken cancellationToken)
    {
        var prices = options.Value.PriceTable();
        await using var db = store.CreateContext();
        var (fromMs, toMs) = (from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var ended = db.Attempts.AsNoTracking().Where(a => a.EndedAtUnixMs >= fromMs && a.EndedAtUnixMs < toMs);
        if (tenant is not null) ended = ended.Where(a => a.TenantId == tenant);

        var jobs = await ended.GroupBy(a => a.TenantId).Select(g => new Totals(
                g.Key, g.Count(),
                g.Sum(a => a.ReservedCoreSeconds ?? 0), g.Sum(a => a.ReservedMemoryGbSeconds ?? 0), g.Sum(a => a.ReservedGpuSeconds ?? 0),
                g.Sum(a => a.UsedCoreSeconds ?? 0), g.Sum(a => a.UsedMemoryGbSeconds ?? 0), g.Sum(a => a.UsedGpuSeconds ?? 0)))
            .ToDictionaryAsync(t => t.Key, StringComparer.Ordinal, cancellationToken);
        var jobDays = (await ended.GroupBy(a => a.EndedAtUnixMs!.Value / DayMs).Select(g => new
            {
                Day = g.Key,
                ReservedCore = g.Sum(a => a.ReservedCoreSeconds ?? 0), ReservedMemory = g.Sum(a => a.ReservedMemoryGbSeconds ?? 0), ReservedGpu = g.Sum(a => a.ReservedGpuSeconds ?? 0),
                UsedCore = g.Sum(a => a.UsedCoreSeconds ?? 0), UsedMemory = g.Sum(a => a.UsedMemoryGbSeconds ?? 0), UsedGpu = g.Sum(a => a.UsedGpuSeconds ?? 0),
            })
            .ToListAsync(cancellationToken))
            .ToDictionary(d => d.Day, d => (Reserved: new ResourceSeconds(d.ReservedCore, d.ReservedMemory, d.ReservedGpu), Used: new ResourceSeconds(d.UsedCore, d.UsedMemory, d.UsedGpu)));
        var serving = await ServingAsync(db, fromMs, toMs, tenant, cancellationToken);

        var tenantIds = jobs.Keys.Concat(serving.Select(s => s.TenantId)).Distinct(StringComparer.Ordinal).ToList();
        if (tenant is not null && tenantIds.Count == 0) tenantIds.Add(tenant);
        var tenants = tenantIds.Order(StringComparer.Ordinal).Select(id =>
        {
            var jobPart = jobs.GetValueOrDefault(id);
            var (jobReserved, jobUsed) = (jobPart?.Reserved ?? default, jobPart?.Used ?? default);
            var servingRows = serving.Where(s => s.TenantId == id).ToList();
            var (servingReserved, servingUsed) = (Sum(servingRows, s => s.Reserved), Sum(servingRows, s => s.Used));
            return new TenantUsage
            {
                TenantId = id,
                Attempts = jobPart?.Attempts ?? 0,
                Reserved = UsageMapping.ToContract(jobReserved + servingReserved),
                Used = UsageMapping.ToContract(jobUsed + servingUsed),
                Cost = UsageMapping.Cost(prices, jobReserved + servingReserved, jobUsed + servingUsed),
                Jobs = new UsagePart
                {
                    Reserved = UsageMapping.ToContract(jobReserved),
                    Used = UsageMapping.ToContract(jobUsed),
                    Cost = UsageMapping.Cost(prices, jobReserved, jobUsed),
                },
                Serving = new ServingUsage
                {
                    ReplicaSeconds = servingRows.Sum(s => s.ReplicaSeconds),
                    Reserved = UsageMapping.ToContract(servingReserved),
                    Used = UsageMapping.ToContract(servingUsed),
                    Cost = UsageMapping.Cost(prices, servingReserved, servingUsed),
                },
            };
        }).ToArray();

        return new UsageReport
        {
            From = from,
            To = to,
            Prices = new UsagePrices { Currency = prices.Currency, CpuCoreHour = prices.CpuCoreHour, MemoryGbHour = prices.MemoryGbHour, GpuHour = prices.GpuHour },
            Tenants = tenants,
            Jobs = limit == 0 ? [] : await CostliestJobsAsync(db, ended, prices, limit, options.Value.HintMinSeconds, cancellationToken),
            Deployments = CostliestDeployments(serving, prices, limit),
            Days = Days(from, to, jobDays, serving, prices),
        };
    }

    /// <summary>
    /// The replicas' usage inside [from, to), per tenant, deployment and UTC day. An interval lies within one
    /// day; one that crosses an edge of the window counts the share of it inside (its figures are spread
    /// evenly over its wall time).
    /// </summary>
    private static async Task<List<ServingRow>> ServingAsync(StrataDbContext db, long fromMs, long toMs, string? tenant, CancellationToken cancellationToken)
    {
        var intervals = db.ReplicaUsage.AsNoTracking().Where(u => u.EndedAtUnixMs > fromMs && u.StartedAtUnixMs < toMs);
        if (tenant is not null) intervals = intervals.Where(u => u.TenantId == tenant);
        var rows = await intervals
            .Select(u => new
            {
                u.TenantId,
                u.DeploymentName,
                Day = u.StartedAtUnixMs / DayMs,
                Share = ((u.EndedAtUnixMs < toMs ? u.EndedAtUnixMs : toMs) - (u.StartedAtUnixMs > fromMs ? u.StartedAtUnixMs : fromMs)) / (double)(u.EndedAtUnixMs - u.StartedAtUnixMs),
                WallSeconds = (u.EndedAtUnixMs - u.StartedAtUnixMs) / 1000.0,
                u.ReservedCoreSeconds,
                u.ReservedMemoryGbSeconds,
                u.UsedCoreSeconds,
                u.UsedMemoryGbSeconds,
            })
            .GroupBy(u => new { u.TenantId, u.DeploymentName, u.Day })
            .Select(g => new
            {
                g.Key.TenantId,
                g.Key.DeploymentName,
                g.Key.Day,
                ReplicaSeconds = g.Sum(u => u.WallSeconds * u.Share),
                ReservedCore = g.Sum(u => u.ReservedCoreSeconds * u.Share),
                ReservedMemory = g.Sum(u => u.ReservedMemoryGbSeconds * u.Share),
                UsedCore = g.Sum(u => u.UsedCoreSeconds * u.Share),
                UsedMemory = g.Sum(u => u.UsedMemoryGbSeconds * u.Share),
            })
            .ToListAsync(cancellationToken);
        return rows.Select(r => new ServingRow(r.TenantId, r.DeploymentName, r.Day, r.ReplicaSeconds,
            new ResourceSeconds(r.ReservedCore, r.ReservedMemory, 0), new ResourceSeconds(r.UsedCore, r.UsedMemory, 0))).ToList();
    }

    /// <summary>The <paramref name="limit"/> deployments whose replicas cost the most in the window.</summary>
    private static DeploymentUsage[] CostliestDeployments(List<ServingRow> serving, PriceTable prices, int limit) =>
        serving.GroupBy(s => (s.TenantId, s.DeploymentName))
            .Select(g => (g.Key, ReplicaSeconds: g.Sum(s => s.ReplicaSeconds), Reserved: Sum(g, s => s.Reserved), Used: Sum(g, s => s.Used)))
            .OrderByDescending(d => prices.Price(d.Reserved)).ThenBy(d => d.Key.TenantId, StringComparer.Ordinal).ThenBy(d => d.Key.DeploymentName, StringComparer.Ordinal)
            .Take(limit)
            .Select(d => new DeploymentUsage
            {
                TenantId = d.Key.TenantId,
                Name = d.Key.DeploymentName,
                ReplicaSeconds = d.ReplicaSeconds,
                Reserved = UsageMapping.ToContract(d.Reserved),
                Used = UsageMapping.ToContract(d.Used),
                Cost = UsageMapping.Cost(prices, d.Reserved, d.Used),
            })
            .ToArray();

    /// <summary>Every UTC day from the one holding <paramref name="from"/> to the one holding the window's last instant, each priced.</summary>
    private static UsageDay[] Days(
        DateTimeOffset from, DateTimeOffset to, Dictionary<long, (ResourceSeconds Reserved, ResourceSeconds Used)> jobDays, List<ServingRow> serving, PriceTable prices)
    {
        var epoch = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        var first = DateOnly.FromDateTime(from.UtcDateTime).DayNumber - epoch;
        var last = DateOnly.FromDateTime(to.UtcDateTime.AddTicks(-1)).DayNumber - epoch;
        var servingDays = serving.GroupBy(s => s.Day).ToDictionary(g => g.Key, g => (Reserved: Sum(g, s => s.Reserved), Used: Sum(g, s => s.Used)));
        var days = new UsageDay[last - first + 1];
        for (var day = first; day <= last; day++)
        {
            var (jobReserved, jobUsed) = jobDays.GetValueOrDefault(day);
            var (servingReserved, servingUsed) = servingDays.GetValueOrDefault(day);
            days[day - first] = new UsageDay
            {
                Date = DateOnly.FromDayNumber(epoch + day),
                Cost = UsageMapping.Cost(prices, jobReserved + servingReserved, jobUsed + servingUsed),
                Jobs = UsageMapping.Cost(prices, jobReserved, jobUsed),
                Serving = UsageMapping.Cost(prices, servingReserved, servingUsed),
            };
        }
        return days;
    }

    /// <summary>The <paramref name="limit"/> jobs whose attempts in the window cost the most, with their hints.</summary>
    private static async Task<JobUsage[]> CostliestJobsAsync(
        StrataDbContext db, IQueryable<AttemptRecord> ended, PriceTable prices, int limit, int hintMinSeconds, CancellationToken cancellationToken)
    {
        // Ordered in the database by the reserved price per second, so only the top rows come back.
        var core = (double)prices.CpuCoreHour;
        var memory = (double)prices.MemoryGbHour;
        var gpu = (double)prices.GpuHour;
        var rows = await ended.GroupBy(a => a.JobId).Select(g => new
            {
                JobId = g.Key,
                Attempts = g.Count(),
                ReservedCore = g.Sum(a => a.ReservedCoreSeconds ?? 0),
                ReservedMemory = g.Sum(a => a.ReservedMemoryGbSeconds ?? 0),
                ReservedGpu = g.Sum(a => a.ReservedGpuSeconds ?? 0),
                UsedCore = g.Sum(a => a.UsedCoreSeconds ?? 0),
                UsedMemory = g.Sum(a => a.UsedMemoryGbSeconds ?? 0),
                UsedGpu = g.Sum(a => a.UsedGpuSeconds ?? 0),
                MeasuredSeconds = g.Sum(a => a.UsedCoreSeconds != null ? a.WallSeconds ?? 0 : 0),
                PeakMemoryBytes = g.Max(a => a.PeakMemoryBytes),
            })
            .OrderByDescending(j => j.ReservedCore * core + j.ReservedMemory * memory + j.ReservedGpu * gpu).ThenBy(j => j.JobId)
            .Take(limit)
            .ToListAsync(cancellationToken);
        var top = rows.Select(j => (Totals: new Totals(j.JobId, j.Attempts, j.ReservedCore, j.ReservedMemory, j.ReservedGpu, j.UsedCore, j.UsedMemory, j.UsedGpu),
            j.MeasuredSeconds, j.PeakMemoryBytes)).ToList();
        var ids = top.Select(j => j.Totals.Key).ToList();
        var jobs = await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id))
            .Select(j => new { j.Id, j.TenantId, j.Name, j.CpuCores, j.MemoryBytes, j.Workers })
            .ToDictionaryAsync(j => j.Id, StringComparer.Ordinal, cancellationToken);
        return top.Where(j => jobs.ContainsKey(j.Totals.Key)).Select(j =>
        {
            var job = jobs[j.Totals.Key];
            var hints = RightSizing.Hints(job.CpuCores, job.MemoryBytes / (double)ResourceRequest.BytesPerGb, job.Workers,
                j.Totals.Used.CoreSeconds, j.MeasuredSeconds, j.PeakMemoryBytes, hintMinSeconds);
            return new JobUsage
            {
                TenantId = job.TenantId,
                JobId = job.Id,
                Name = job.Name,
                Attempts = j.Totals.Attempts,
                Reserved = UsageMapping.ToContract(j.Totals.Reserved),
                Used = UsageMapping.ToContract(j.Totals.Used),
                Cost = UsageMapping.Cost(prices, j.Totals.Reserved, j.Totals.Used),
                RightSizing = UsageMapping.ToContract(hints),
            };
        }).ToArray();
    }

    private static ResourceSeconds Sum<T>(IEnumerable<T> rows, Func<T, ResourceSeconds> value) => rows.Aggregate(default(ResourceSeconds), (sum, row) => sum + value(row));

    /// <summary>Sums over a group of attempts (a tenant's or a job's).</summary>
    private sealed record Totals(string Key, int Attempts, double ReservedCore, double ReservedMemory, double ReservedGpu, double UsedCore, double UsedMemory, double UsedGpu)
    {
        public ResourceSeconds Reserved => new(ReservedCore, ReservedMemory, ReservedGpu);
        public ResourceSeconds Used => new(UsedCore, UsedMemory, UsedGpu);
    }

    /// <summary>A deployment's replicas' usage on one UTC day (days since 1970-01-01) inside the window.</summary>
    private sealed record ServingRow(string TenantId, string DeploymentName, long Day, double ReplicaSeconds, ResourceSeconds Reserved, ResourceSeconds Used);
}
