using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>
/// A job's routes take a reference, as git and docker do: a full id, a unique id prefix, or a name; several matches
/// are a 409 listing the candidates, and another tenant's jobs never match. On every store, since a prefix is a range query.
/// </summary>
public abstract class JobReferenceTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    private static string[] ReadRoutes(string reference) =>
    [
        $"/v1/jobs/training/{reference}", $"/v1/jobs/training/{reference}/attempts", $"/v1/jobs/training/{reference}/logs",
        $"/v1/jobs/training/{reference}/metrics",
    ];

    /// <summary>The characters two ids start with alike (UUIDv7: jobs of one minute share most of the timestamp).</summary>
    private static string CommonPrefix(string a, string b) => a[..a.Zip(b).TakeWhile(p => p.First == p.Second).Count()];

    /// <summary>The shortest prefix of <paramref name="id"/> that no id of <paramref name="others"/> starts with (never ending at a '-').</summary>
    private static string UniquePrefix(string id, params string[] others)
    {
        var length = Math.Max(4, others.Max(o => CommonPrefix(id, o).Length) + 1);
        if (id[length - 1] == '-') length++;
        return id[..length];
    }

    private static async Task<string> SubmitAsync(HttpClient client, string name, string entrypoint) =>
        (await StrataApp.SubmitAsync(client, new { name, entrypoint })).GetProperty("id").GetString()!;

    private static async Task<JsonElement> GetAsync(HttpClient client, string reference, int status = 200)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{Uri.EscapeDataString(reference)}");
        return status == 200 ? await Http.ExpectAsync(response, 200) : await Http.ExpectProblemAsync(response, status,
            status == 409 ? ProblemTypes.AmbiguousReference : ProblemTypes.NotFound);
    }

    [SkippableFact]
    public async Task A_unique_id_prefix_in_any_case_names_its_job_on_every_route_and_a_shared_one_lists_the_candidates()
    {
        var (_, client) = await app.TenantClientAsync("prefixes");
        using var _ = client;
        var ended = await SubmitAsync(client, "ended", "true");
        var running = await SubmitAsync(client, "running", "sleep 30");
        await StrataApp.WaitForEndAsync(client, ended);
        await StrataApp.WaitForStatusAsync(client, running, "running");
        var shared = CommonPrefix(ended, running);
        Assert.True(shared.Length >= 4, $"{ended} and {running} were submitted a moment apart and share their time's first digits");

        foreach (var route in ReadRoutes(UniquePrefix(ended, running).ToUpperInvariant()))
        {
            using var response = await client.GetAsync(route);
            await Http.ExpectAsync(response, 200);
        }
        Assert.Equal(ended, (await GetAsync(client, UniquePrefix(ended, running))).GetProperty("id").GetString());

        foreach (var route in ReadRoutes(shared))
        {
            using var response = await client.GetAsync(route);
            var problem = await Http.ExpectProblemAsync(response, 409, ProblemTypes.AmbiguousReference);
            Assert.Equal(2, problem.GetProperty("count").GetInt32());
            // Newest first, each with what tells them apart.
            var candidates = problem.GetProperty("candidates").EnumerateArray().ToList();
            Assert.Equal([running, ended], candidates.Select(c => c.GetProperty("id").GetString()));
            Assert.Equal(["running", "ended"], candidates.Select(c => c.GetProperty("name").GetString()));
            Assert.Equal(["running", "succeeded"], candidates.Select(c => c.GetProperty("status").GetString()));
            Assert.All(candidates, c => Assert.True(c.GetProperty("created_at").GetDateTimeOffset() > DateTimeOffset.UnixEpoch));
        }
        using (var cancelShared = await client.DeleteAsync($"/v1/jobs/training/{shared}"))
        {
            await Http.ExpectProblemAsync(cancelShared, 409, ProblemTypes.AmbiguousReference);
        }
        Assert.Equal("running", (await GetAsync(client, running)).GetProperty("status").GetString());

        // Too short to be a prefix, or a prefix of no job: not found, as an unknown id is.
        await GetAsync(client, ended[..3], 404);
        await GetAsync(client, "ffff", 404);

        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{UniquePrefix(running, ended)}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        await StrataApp.WaitForStatusAsync(client, running, "cancelled");
    }

    [SkippableFact]
    public async Task Another_tenants_jobs_never_match_a_prefix_or_a_name()
    {
        var (_, teamA) = await app.TenantClientAsync("team-a");
        var (_, teamB) = await app.TenantClientAsync("team-b");
        using var _a = teamA;
        using var _b = teamB;
        var theirs = await SubmitAsync(teamA, "theirs", "true");
        var ours = await SubmitAsync(teamB, "ours", "true");
        await StrataApp.WaitForEndAsync(teamA, theirs);
        await StrataApp.WaitForEndAsync(teamB, ours);

        foreach (var route in ReadRoutes(UniquePrefix(theirs, ours)).Append($"/v1/jobs/training/{UniquePrefix(theirs, ours)}/outputs"))
        {
            using var response = await teamB.GetAsync(route);
            await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
        }
        using (var cancel = await teamB.DeleteAsync($"/v1/jobs/training/{UniquePrefix(theirs, ours)}"))
        {
            await Http.ExpectProblemAsync(cancel, 404, ProblemTypes.NotFound);
        }
        await GetAsync(teamB, "theirs", 404);

        // A prefix both tenants' jobs share names only the caller's own.
        var shared = CommonPrefix(theirs, ours);
        if (shared.Length >= 4)
        {
            Assert.Equal(ours, (await GetAsync(teamB, shared)).GetProperty("id").GetString());
        }
    }

    [SkippableFact]
    public async Task A_name_names_the_one_job_that_has_not_ended_or_else_the_one_job_that_had_it()
    {
        var (_, client) = await app.TenantClientAsync("names");
        using var _ = client;
        var once = await SubmitAsync(client, "once", "true");
        var first = await SubmitAsync(client, "rerun", "true");
        await StrataApp.WaitForEndAsync(client, first);
        var second = await SubmitAsync(client, "rerun", "true");
        await StrataApp.WaitForEndAsync(client, second);
        await StrataApp.WaitForEndAsync(client, once);

        Assert.Equal(once, (await GetAsync(client, "once")).GetProperty("id").GetString());
        var problem = await GetAsync(client, "rerun", 409);
        Assert.Equal(2, problem.GetProperty("count").GetInt32());
        Assert.Equal([second, first], problem.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        Assert.Contains("'rerun' names 2 training jobs", problem.GetProperty("detail").GetString());

        // A third run, still running, is the one the name means: the ended ones are history.
        var third = await SubmitAsync(client, "rerun", "sleep 30");
        Assert.Equal(third, (await GetAsync(client, "rerun")).GetProperty("id").GetString());
        using (var cancel = await client.DeleteAsync("/v1/jobs/training/rerun"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        await StrataApp.WaitForStatusAsync(client, third, "cancelled");
        Assert.Equal(3, (await GetAsync(client, "rerun", 409)).GetProperty("count").GetInt32());
        await GetAsync(client, "never-submitted", 404);
    }
}

public sealed class SqliteJobReferenceTests(SqliteApp app) : JobReferenceTests<SqliteApp>(app);

public sealed class PostgresJobReferenceTests(PostgresApp app) : JobReferenceTests<PostgresApp>(app);
