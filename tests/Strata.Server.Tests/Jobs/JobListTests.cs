using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

public sealed class JobListTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task Lists_are_newest_first_filter_by_status_and_page_through_the_Link_header()
    {
        var (_, client) = await app.TenantClientAsync("listing");
        using var _ = client;
        var submitted = new List<(string Id, bool Fails)>();
        for (var i = 0; i < 5; i++)
        {
            var fails = i % 2 == 1;
            var job = await StrataApp.SubmitAsync(client, new { name = $"job-{i}", entrypoint = fails ? "exit 1" : "true" });
            submitted.Add((job.GetProperty("id").GetString()!, fails));
        }
        foreach (var (id, _) in submitted)
        {
            await StrataApp.WaitForEndAsync(client, id);
        }
        var newestFirst = submitted.Select(j => j.Id).Reverse().ToArray();

        Assert.Equal(newestFirst, await ListAsync(client, "/v1/jobs/training"));
        Assert.Equal(newestFirst.Where(id => submitted.Single(j => j.Id == id).Fails), await ListAsync(client, "/v1/jobs/training?status=failed"));
        Assert.Equal(newestFirst.Where(id => !submitted.Single(j => j.Id == id).Fails), await ListAsync(client, "/v1/jobs/training?status=succeeded"));
        Assert.Empty(await ListAsync(client, "/v1/jobs/training?status=running"));

        Assert.Equal(newestFirst, await WalkAsync(client, "/v1/jobs/training?limit=2", expectedPages: 3));
        Assert.Equal(newestFirst, await WalkAsync(client, "/v1/jobs/training?limit=1", expectedPages: 5));
        Assert.Equal(newestFirst, await WalkAsync(client, "/v1/jobs/training?limit=5", expectedPages: 1));
        Assert.Equal(
            newestFirst.Where(id => !submitted.Single(j => j.Id == id).Fails),
            await WalkAsync(client, "/v1/jobs/training?status=succeeded&limit=2", expectedPages: 2));
    }

    [Fact]
    public async Task Jobs_submitted_while_paging_do_not_shift_the_pages()
    {
        var (_, client) = await app.TenantClientAsync("keyset");
        using var _ = client;
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await StrataApp.SubmitAsync(client, new { name = $"k-{i}", entrypoint = "true" })).GetProperty("id").GetString()!);
        }
        using var first = await client.GetAsync("/v1/jobs/training?limit=2");
        var page1 = (await Http.ExpectAsync(first, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToArray();
        var next = Http.NextLink(first)!;
        var late = (await StrataApp.SubmitAsync(client, new { name = "late", entrypoint = "true" })).GetProperty("id").GetString()!;
        using var second = await client.GetAsync(next);
        var page2 = (await Http.ExpectAsync(second, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToArray();

        Assert.Equal(new[] { ids[3], ids[2] }, page1);
        Assert.Equal(new[] { ids[1], ids[0] }, page2);
        Assert.DoesNotContain(late, page2);
        Assert.Null(Http.NextLink(second));
        foreach (var id in ids.Append(late)) await StrataApp.WaitForEndAsync(client, id);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("status=bogus", "status")]
    [InlineData("status=1", "status")]
    [InlineData("page_token=garbage", "page_token")]
    [InlineData("page_token=eDox", "page_token")]
    [InlineData("page_token=czotMQ", "page_token")]
    [InlineData("limit=0&status=bogus&page_token=%%%", "limit", "status", "page_token")]
    public async Task Bad_list_parameters_are_400_naming_them(string query, params string[] fields)
    {
        var (_, client) = await app.TenantClientAsync("badlist");
        using var _ = client;
        using var response = await client.GetAsync($"/v1/jobs/training?{query}");
        await Http.ExpectValidationAsync(response, fields);
    }

    [Fact]
    public async Task An_empty_list_is_an_empty_array_without_a_next_link()
    {
        var (_, client) = await app.TenantClientAsync("emptylist");
        using var _ = client;
        using var response = await client.GetAsync("/v1/jobs/training?limit=200");
        Assert.Empty((await Http.ExpectAsync(response, 200)).EnumerateArray());
        Assert.Null(Http.NextLink(response));
    }

    private static async Task<string[]> ListAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        var jobs = await Http.ExpectAsync(response, 200);
        Assert.Null(Http.NextLink(response));
        return jobs.EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToArray();
    }

    /// <summary>Follows <c>rel="next"</c> to the end, checking that no job is seen twice.</summary>
    private static async Task<string[]> WalkAsync(HttpClient client, string url, int expectedPages)
    {
        var seen = new List<string>();
        var pages = 0;
        for (string? next = url; next is not null; pages++)
        {
            Assert.True(pages < 20, "The Link header never ends.");
            using var response = await client.GetAsync(next);
            var page = (await Http.ExpectAsync(response, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()!).ToArray();
            Assert.NotEmpty(page);
            next = Http.NextLink(response);
            if (next is not null)
            {
                Assert.StartsWith("/v1/jobs/training?", next, StringComparison.Ordinal);
                Assert.Contains("page_token=", next, StringComparison.Ordinal);
            }
            seen.AddRange(page);
        }
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(expectedPages, pages);
        return [.. seen];
    }
}
