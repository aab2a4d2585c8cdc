using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Storage;

namespace Strata.Server.Auth;

/// <summary>
/// Answers "is this job token's attempt still live?" on every request made with a job token, without a query
/// each time. An attempt is live while it is starting or running and is the current attempt of its running
/// job: a cancelled job's attempt that is still stopping is not. An attempt found live is trusted for
/// <see cref="CacheFor"/>; this server forgets it at once when it records the attempt's end or cancels its job
/// (<see cref="Ended"/>), and another replica's record of the end is seen within <see cref="CacheFor"/>. An
/// attempt found not live is remembered for good (bounded): attempts never come back to life.
/// </summary>
public sealed class LiveAttempts(Store store, TimeProvider time)
{
    /// <summary>How long an attempt found live is trusted without asking the store again.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(2);

    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<AttemptRef, DateTimeOffset> _live = new();
    private readonly ConcurrentDictionary<AttemptRef, bool> _ended = new();

    /// <summary>True while <paramref name="attempt"/> is live.</summary>
    public async Task<bool> IsLiveAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        var (tenantId, jobId, number) = attempt;
        var now = time.GetUtcNow();
        if (_live.TryGetValue(attempt, out var until) && until > now) return true;
        if (_ended.ContainsKey(attempt)) return false;

        await using var db = store.CreateContext();
        var live = await db.Attempts.AsNoTracking().AnyAsync(a =>
            a.JobId == jobId && a.Number == number && a.TenantId == tenantId
            && (a.Status == AttemptStatus.Starting || a.Status == AttemptStatus.Running)
            && db.Jobs.Any(j => j.Id == jobId && j.Status == JobStatus.Running && j.AttemptCount == number), cancellationToken);
        if (!live)
        {
            Ended(attempt);
            return false;
        }
        Remember(_live, attempt, now + CacheFor);
        // An end recorded while the store was being read may have come before the line above: it wins.
        if (_ended.ContainsKey(attempt))
        {
            _live.TryRemove(attempt, out _);
            return false;
        }
        return true;
    }

    /// <summary>The attempt has ended, or its job was cancelled (and committed): its token is refused from now on.</summary>
    public void Ended(AttemptRef attempt)
    {
        Remember(_ended, attempt, true);
        _live.TryRemove(attempt, out _);
    }

    /// <summary>Bounded: past the bound, what was remembered is forgotten and asked of the store again.</summary>
    private static void Remember<T>(ConcurrentDictionary<AttemptRef, T> remembered, AttemptRef attempt, T value)
    {
        if (remembered.Count >= MaxRemembered) remembered.Clear();
        remembered[attempt] = value;
    }
}
