using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Strata.Contracts;
using Strata.Server.Tests.Deployments;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>
/// What a remote user downloads: a job's outputs (a listing, then files, with ranges and ETags) and a model version's
/// file, by number or alias. The output folder is the job's to fill, so it holds links and a FIFO to be refused.
/// </summary>
public sealed class DownloadTests(DeploymentApp app) : IClassFixture<DeploymentApp>
{
    private const string Writer =
        "printf '{\"w\": 1}' > \"$MODEL_OUTPUT_PATH/model.json\" && mkdir -p \"$MODEL_OUTPUT_PATH/sub\" && printf 0123456789 > \"$MODEL_OUTPUT_PATH/sub/data.bin\" " +
        "&& ln -s /etc/passwd \"$MODEL_OUTPUT_PATH/passwd\" && ln -s / \"$MODEL_OUTPUT_PATH/root\" && mkfifo \"$MODEL_OUTPUT_PATH/fifo\"";

    [Fact]
    public async Task A_jobs_outputs_are_listed_and_downloaded_with_ranges_and_never_through_a_link_or_a_fifo()
    {
        var (_, client) = await app.TenantClientAsync("outputs");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "writer", entrypoint = $"sh -c '{Writer.Replace("'", "'\\''", StringComparison.Ordinal)}'", retry = new { max_attempts = 1 } }))
            .GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");

        using (var list = await client.GetAsync($"/v1/jobs/training/{id}/outputs"))
        {
            var listing = await Http.ExpectAsync(list, 200);
            Assert.Equal(["model.json", "sub/data.bin"], listing.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()));
            Assert.Equal(10, listing.GetProperty("files")[1].GetProperty("size_bytes").GetInt64());
            Assert.False(listing.GetProperty("truncated").GetBoolean());
        }

        string etag;
        using (var whole = await client.GetAsync($"/v1/jobs/training/{id}/outputs/sub/data.bin"))
        {
            Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
            Assert.Equal(10, whole.Content.Headers.ContentLength);
            Assert.Equal("0123456789", await whole.Content.ReadAsStringAsync());
            etag = whole.Headers.ETag!.Tag;
        }
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/training/{id}/outputs/sub/data.bin"))
        {
            request.Headers.Range = new RangeHeaderValue(2, 5);
            using var part = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
            Assert.Equal("2345", await part.Content.ReadAsStringAsync());
        }
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/jobs/training/{id}/outputs/sub/data.bin"))
        {
            request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue(etag));
            using var unchanged = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
        }

        // What the job put there to reach the server's files, and names that try to leave the folder.
        foreach (var path in new[] { "passwd", "root/etc/passwd", "fifo", "sub", "missing" })
        {
            using var refused = await client.GetAsync($"/v1/jobs/training/{id}/outputs/{path}");
            await Http.ExpectProblemAsync(refused, 404, ProblemTypes.NotFound);
        }
        // (A "sub/../x" never arrives as such: the client and Kestrel take dot segments out of the URL.)
        foreach (var path in new[] { "sub//data.bin", "%2E%2E%2Fsub%2Fdata.bin", "sub%2F..%2F..%2Fmodel.json", "%2Fetc%2Fpasswd" })
        {
            using var refused = await client.GetAsync($"/v1/jobs/training/{id}/outputs/{path}");
            Assert.True(refused.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{path}: {refused.StatusCode}");
            Assert.NotEqual("{\"w\": 1}", await refused.Content.ReadAsStringAsync());
        }

        // Another tenant sees no such job, neither its listing nor its files.
        var (_, other) = await app.TenantClientAsync("outputs-other");
        using (other)
        {
            using (var list = await other.GetAsync($"/v1/jobs/training/{id}/outputs")) await Http.ExpectProblemAsync(list, 404, ProblemTypes.NotFound);
            using (var file = await other.GetAsync($"/v1/jobs/training/{id}/outputs/model.json")) await Http.ExpectProblemAsync(file, 404, ProblemTypes.NotFound);
        }
    }

    [Fact]
    public async Task A_model_versions_file_downloads_by_number_and_by_alias_and_not_for_another_tenant()
    {
        var (tenant, client) = await app.TenantClientAsync("model-file");
        using var _ = client;
        var version = await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var alias = await client.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version })) await Http.ExpectAsync(alias, 200);
        var expected = await File.ReadAllBytesAsync(Path.Combine(app.ModelFolder, "model.zip"));

        foreach (var name in new[] { version.ToString(System.Globalization.CultureInfo.InvariantCulture), "production", "latest" })
        {
            using var file = await client.GetAsync($"/v1/models/churn/versions/{name}/file");
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal(expected.Length, file.Content.Headers.ContentLength);
            Assert.Equal(expected, await file.Content.ReadAsByteArrayAsync());
            Assert.Equal($"\"{Convert.ToHexStringLower(SHA256.HashData(expected))}\"", file.Headers.ETag!.Tag);
            Assert.Equal($"churn-{version}.zip", file.Content.Headers.ContentDisposition!.FileNameStar ?? file.Content.Headers.ContentDisposition.FileName);
        }
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models/churn/versions/production/file"))
        {
            request.Headers.Range = new RangeHeaderValue(expected.Length - 10, null);
            using var tail = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.PartialContent, tail.StatusCode);
            Assert.Equal(expected[^10..], await tail.Content.ReadAsByteArrayAsync());
        }
        using (var missing = await client.GetAsync("/v1/models/churn/versions/staging/file")) await Http.ExpectProblemAsync(missing, 404, ProblemTypes.NotFound);

        var (_, other) = await app.TenantClientAsync("model-file-other");
        using (other)
        using (var file = await other.GetAsync("/v1/models/churn/versions/production/file"))
        {
            await Http.ExpectProblemAsync(file, 404, ProblemTypes.NotFound);
        }
    }
}
