using System.Text;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>The S3 backend, through the whole API and a job, against <see cref="FakeS3"/> (S3's REST protocol on loopback).</summary>
public sealed class S3BackendTests
{
    [Fact]
    public async Task Artifacts_are_stored_in_the_bucket_under_the_tenant_and_jobs_read_them_from_there()
    {
        await using var s3 = await FakeS3.StartAsync();
        await using var app = new StrataApp(StorageKind.Sqlite, new Dictionary<string, string?>
        {
            ["Artifacts:Backend"] = "s3",
            ["Artifacts:S3Store:ServiceUrl"] = s3.Url,
            ["Artifacts:S3Store:Bucket"] = s3.Bucket,
            ["Artifacts:S3Store:Prefix"] = "strata/",
            ["Artifacts:S3Store:AccessKey"] = s3.AccessKey,
            ["Artifacts:S3Store:SecretKey"] = "secret",
        });
        await app.StartIfNeededAsync();
        var (tenant, client) = await app.TenantClientAsync("s3");
        using var _ = client;
        var bytes = Encoding.UTF8.GetBytes("x,y\n1,2\n");

        var artifact = await ArtifactApiTests<StrataApp>.UploadAsync(client, bytes, "xy.csv");
        var id = artifact.GetProperty("id").GetString()!;

        Assert.Equal(bytes, s3.Objects[$"strata/{tenant}/{id}"]);
        Assert.False(Directory.Exists(Path.Combine(app.DataPath, "blobs")));
        using (var content = await client.GetAsync($"/v1/artifacts/{id}/content"))
        {
            Assert.Equal(bytes, await content.Content.ReadAsByteArrayAsync());
        }
        var job = await StrataApp.SubmitAsync(client, new { name = "from-s3", entrypoint = "cat \"$DATA_PATH\"", data_path = $"artifact://{id}" });
        var jobId = job.GetProperty("id").GetString()!;
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, jobId)).GetProperty("status").GetString());
        using (var logs = await client.GetAsync($"/v1/jobs/training/{jobId}/logs"))
        {
            Assert.Equal("x,y\n1,2\n", await logs.Content.ReadAsStringAsync());
        }

        // Deleting the tenant removes its objects.
        await app.DeleteTenantAsync(tenant);
        Assert.DoesNotContain(s3.Objects.Keys, k => k.StartsWith($"strata/{tenant}/", StringComparison.Ordinal));
    }
}
