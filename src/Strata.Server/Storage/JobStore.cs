using Microsoft.EntityFrameworkCore;
using Strata.Contracts;

namespace Strata.Server.Storage;

/// <summary>
/// What a job reference names among a tenant's jobs: the one job (<see cref="Job"/>), or none, or several
/// (<see cref="Candidates"/>, newest first, at most <see cref="JobCandidate.MaxListed"/>, and <see cref="Count"/> of them).
/// </summary>
public sealed record JobLookup(JobRecord? Job, IReadOnlyList<JobRecord> Candidates, int Count)
{
    public static readonly JobLookup None = new(null, [], 0);

    public bool IsAmbiguous => Job is null && Count > 1;
}

/// <summary>Finds a tenant's training jobs; what other features use to check that a job is the caller's.</summary>
public sealed class JobStore(Store store)
{
    /// <summary>The fewest characters an id prefix may have: shorter ones would name most of a tenant's recent jobs.</summary>
    public const int MinPrefixLength = 4;

    /// <summary>The job <paramref name="id"/> of <paramref name="tenantId"/>, or <c>null</c> when the tenant has no such job.</summary>
    public async Task<JobRecord?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        return await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id && j.TenantId == tenantId, cancellationToken);
    }

    /// <summary>
    /// The job a user's reference names, as git and docker read one, tried in this order: a full id; a unique
    /// prefix of an id (at least <see cref="MinPrefixLength"/> characters, any case); a name unique among the
    /// tenant's jobs that have not ended (pending, running, cancelling), or, when none of them has it, unique among
    /// all its jobs. The first kind that matches decides: several matches are ambiguous, not a fall through to the
    /// next kind. Only the tenant's own jobs are looked at, and every query is a range or a lookup on an index.
    /// </summary>
    public async Task<JobLookup> ResolveAsync(string tenantId, string reference, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var jobs = db.Jobs.AsNoTracking().Where(j => j.TenantId == tenantId);
        var id = reference.ToLowerInvariant();
        if (await jobs.FirstOrDefaultAsync(j => j.Id == id, cancellationToken) is { } exact) return new JobLookup(exact, [exact], 1);

        if (IsIdPrefix(id))
        {
            // A range on (tenant_id, id): every id with the prefix sorts between the prefix and the prefix followed by
            // 'g', which is above every character an id has (hex digits and '-'), in ordinal and linguistic collations.
            var upper = id + "g";
            var prefixed = await MatchesAsync(jobs.Where(j => string.Compare(j.Id, id) >= 0 && string.Compare(j.Id, upper) < 0), cancellationToken);
            if (prefixed.Count > 0) return prefixed;
        }

        var named = jobs.Where(j => j.Name == reference);
        var active = await MatchesAsync(named.Where(j => j.Status == JobStatus.Pending || j.Status == JobStatus.Running || j.Status == JobStatus.Cancelling), cancellationToken);
        return active.Count > 0 ? active : await MatchesAsync(named, cancellationToken);
    }

    private static async Task<JobLookup> MatchesAsync(IQueryable<JobRecord> matches, CancellationToken cancellationToken)
    {
        // Ids are UUIDv7, ordered by time: the highest ids are the newest jobs.
        var listed = await matches.OrderByDescending(j => j.Id).Take(JobCandidate.MaxListed).ToListAsync(cancellationToken);
        var count = listed.Count < JobCandidate.MaxListed ? listed.Count : await matches.CountAsync(cancellationToken);
        return count == 0 ? JobLookup.None : new JobLookup(count == 1 ? listed[0] : null, listed, count);
    }

    /// <summary>
    /// True for the start of an id's form (<c>0193a1b2-c3d4-7…</c>, lower case): hex digits, with '-' exactly where
    /// an id has one. A '-' anywhere else could never match, and linguistic collations would compare it loosely.
    /// </summary>
    internal static bool IsIdPrefix(string value)
    {
        if (value.Length < MinPrefixLength || value.Length >= 36) return false;
        for (var i = 0; i < value.Length; i++)
        {
            var isDash = i is 8 or 13 or 18 or 23;
            if (isDash ? value[i] != '-' : !char.IsAsciiHexDigitLower(value[i])) return false;
        }
        return true;
    }
}
