using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Usage;
using Strata.Server.Auth;
using Strata.Server.Problems;
using Strata.Server.Storage;

namespace Strata.Server.Usage;

/// <summary>
/// <c>GET /v1/usage</c>: resource-seconds of the attempts that ended in a window, per tenant and for the
/// costliest jobs, priced by the configured table (docs/usage.md). A tenant's token sees its own tenant;
/// an admin's sees every tenant, or one with <c>tenant=</c>.
/// </summary>
public static class UsageApi
{
    public const int DefaultJobLimit = 20;
    public const int MaxJobLimit = 200;
    /// <summary>The longest window one request may sum over.</summary>
    public const int MaxWindowDays = 366;

    /// <summary>Admins and every role inside a tenant; job tokens are refused.</summary>
    private static readonly AuthorizationPolicy Readers = new AuthorizationPolicyBuilder()
        .RequireAuthenticatedUser()
        .RequireClaim(StrataClaims.Role, Roles.Admin, Roles.Owner, Roles.Member, Roles.Viewer)
        .Build();

    public static WebApplicationBuilder AddUsage(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<UsageOptions>().BindConfiguration(UsageOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<UsagePriceOptions>().BindConfiguration(UsageOptions.Section + ":Prices").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ReplicaUsageRecorder>();
        return builder;
    }

    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/usage", GetAsync).RequireAuthorization(Readers).WithTags("Usage").WithName("GetUsage")
            .WithSummary("Reserved and used resource-seconds of the attempts that ended in [from, to), per tenant and for the costliest jobs, priced.");
        return app;
    }

    private static async Task<Results<Ok<UsageReport>, ValidationProblem, ProblemHttpResult>> GetAsync(
        HttpContext context, Store store, IOptions<UsageOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        var query = context.Request.Query;
        var errors = new ValidationErrors();
        var now = time.GetUtcNow();
        var from = ReadTime(query["from"], "from", errors) ?? new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var to = ReadTime(query["to"], "to", errors) ?? now;
        if (errors.IsEmpty && from >= to)
        {
            errors.Add("from", "must be before to");
        }
        else if (errors.IsEmpty && to - from > TimeSpan.FromDays(MaxWindowDays))
        {
            errors.Add("to", $"must be at most {MaxWindowDays} days after from; ask for a longer span in several windows");
        }
        var limit = DefaultJobLimit;
        if (!string.IsNullOrEmpty(query["limit"])
            && (!int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > MaxJobLimit))
        {
            errors.Add("limit", $"must be 0 to {MaxJobLimit}");
        }
        string? tenant = query["tenant"];
        if (string.IsNullOrEmpty(tenant)) tenant = null;
        if (tenant is not null && !Names.IsDnsLabel(tenant, 40))
        {
            errors.Add("tenant", "must be a tenant id");
        }
        if (!errors.IsEmpty) return Problem.Validation(errors.ToDictionary());
        if (!caller.IsAdmin)
        {
            if (tenant is not null && tenant != caller.TenantId)
            {
                return Problem.Forbidden($"A tenant's token sees its own usage only; omit tenant or use '{caller.TenantId}'.");
            }
            tenant = caller.TenantId;
        }

        var prices = options.Value.PriceTable();
        await using var db = store.CreateContext();
        var (fromMs, toMs) = (from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var ended = db.Attempts.AsNoTracking().Where(a => a.EndedAtUnixMs >= fromMs && a.EndedAtUnixMs < toMs);
        if (tenant is not null) ended = ended.Where(a => a.TenantId == tenant);

        var tenants = (await ended.GroupBy(a => a.TenantId).Select(g => new Totals(
                g.Key, g.Count(),
                g.Sum(a => a.ReservedCoreSeconds ?? 0), g.Sum(a => a.ReservedMemoryGbSeconds ?? 0), g.Sum(a => a.ReservedGpuSeconds ?? 0),
                g.Sum(a => a.UsedCoreSeconds ?? 0), g.Sum(a => a.UsedMemoryGbSeconds ?? 0), g.Sum(a => a.UsedGpuSeconds ?? 0)))
            .ToListAsync(cancellationToken))
            .Select(t => new TenantUsage
            {
                TenantId = t.Key,
                Attempts = t.Attempts,
                Reserved = UsageMapping.ToContract(t.Reserved),
                Used = UsageMapping.ToContract(t.Used),
                Cost = UsageMapping.Cost(prices, t.Reserved, t.Used),
            })
            .ToList();
        if (tenant is not null && tenants.Count == 0)
        {
            tenants.Add(new TenantUsage
            {
                TenantId = tenant,
                Attempts = 0,
                Reserved = UsageMapping.ToContract(default(ResourceSeconds)),
                Used = UsageMapping.ToContract(default(ResourceSeconds)),
                Cost = UsageMapping.Cost(prices, default(ResourceSeconds), default(ResourceSeconds)),
            });
        }

        return TypedResults.Ok(new UsageReport
        {
            From = from,
            To = to,
            Prices = new UsagePrices { Currency = prices.Currency, CpuCoreHour = prices.CpuCoreHour, MemoryGbHour = prices.MemoryGbHour, GpuHour = prices.GpuHour },
            Tenants = tenants.OrderBy(t => t.TenantId, StringComparer.Ordinal).ToArray(),
            Jobs = limit == 0 ? [] : await CostliestJobsAsync(db, ended, prices, limit, options.Value.HintMinSeconds, cancellationToken),
        });
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

    /// <summary>An ISO 8601 date or date-time; one without an offset is UTC. Null when absent.</summary>
    private static DateTimeOffset? ReadTime(string? text, string field, ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value)
            && char.IsAsciiDigit(text[0]))
        {
            return value;
        }
        errors.Add(field, "must be an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T00:00:00Z");
        return null;
    }

    /// <summary>Sums over a group of attempts (a tenant's or a job's).</summary>
    private sealed record Totals(string Key, int Attempts, double ReservedCore, double ReservedMemory, double ReservedGpu, double UsedCore, double UsedMemory, double UsedGpu)
    {
        public ResourceSeconds Reserved => new(ReservedCore, ReservedMemory, ReservedGpu);
        public ResourceSeconds Used => new(UsedCore, UsedMemory, UsedGpu);
    }
}
