using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

public sealed class JobLogsTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly string[] ThreeLines = ["line 1", "line 2", "line 3"];

    [Fact]
    public async Task Tail_gives_the_last_lines_of_the_output()
    {
        var (_, client) = await app.TenantClientAsync("tail");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "lines", entrypoint = "for i in 1 2 3 4 5; do echo line $i; done" }))
            .GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");

        Assert.Equal("line 4\nline 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs?tail=2"));
        Assert.Equal("line 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs?tail=1"));
        Assert.Equal("", await TextAsync(client, $"/v1/jobs/training/{id}/logs?tail=0"));
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs"));
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs?tail=100"));
        Assert.Equal("line 1\nline 2\nline 3\nline 4\nline 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs?attempt=1"));
        // Following a job that has ended gives what there is and ends.
        Assert.Equal("line 5\n", await TextAsync(client, $"/v1/jobs/training/{id}/logs?tail=1&follow=true"));
    }

    [Theory]
    [InlineData("tail=-1", "tail")]
    [InlineData("tail=abc", "tail")]
    [InlineData("tail=100001", "tail")]
    [InlineData("follow=maybe", "follow")]
    [InlineData("attempt=0", "attempt")]
    public async Task Bad_log_parameters_are_400_naming_them(string query, string field)
    {
        var (_, client) = await app.TenantClientAsync("badlogs");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "x", entrypoint = "true" })).GetProperty("id").GetString()!;
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs?{query}");
        await Http.ExpectValidationAsync(response, field);
        await StrataApp.WaitForEndAsync(client, id);
    }

    [Fact]
    public async Task A_missing_attempt_is_404()
    {
        var (_, client) = await app.TenantClientAsync("noattempt");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "once", entrypoint = "true" })).GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs?attempt=2");
        await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Follow_streams_lines_as_they_are_printed_and_ends_with_the_job()
    {
        var (_, client) = await app.TenantClientAsync("follow");
        using var _ = client;
        // The job prints a line, then waits for the test to let it go on: no clock decides what "streamed" means.
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "slow",
            entrypoint = "echo line 1; while [ ! -f \"$MODEL_OUTPUT_PATH/go\" ]; do sleep 0.05; done; echo line 2; echo line 3",
        });
        var id = job.GetProperty("id").GetString()!;
        var go = Path.Combine(job.GetProperty("spec").GetProperty("model_output_path").GetString()!, "go");

        // Follow from before the attempt starts: the server waits for it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/training/{id}/logs?follow=true");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));

        // Streamed, not sent at the end: the first line arrives while the job still waits.
        Assert.Equal("line 1", await reader.ReadLineAsync(timeout.Token));
        using (var get = await client.GetAsync($"/v1/jobs/training/{id}", timeout.Token))
        {
            Assert.Equal("running", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
        }
        await File.WriteAllTextAsync(go, "", timeout.Token);
        var rest = new List<string>();
        while (await reader.ReadLineAsync(timeout.Token) is { } line) rest.Add(line);

        Assert.Equal(ThreeLines, rest.Prepend("line 1"));
        // The stream ended because the job did.
        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromSeconds(10));
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
    }

    private static async Task<string> TextAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }
}
