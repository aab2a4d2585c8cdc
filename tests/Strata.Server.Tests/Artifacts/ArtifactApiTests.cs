using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>The artifact store's API on every store: uploads, downloads, tenancy, hostile archives, jobs that use artifacts.</summary>
public abstract class ArtifactApiTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    internal static async Task<System.Text.Json.JsonElement> UploadAsync(HttpClient client, byte[] bytes, string name, string? kind = null, int status = 201)
    {
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var url = $"/v1/artifacts?name={Uri.EscapeDataString(name)}" + (kind is null ? "" : $"&kind={kind}");
        using var response = await client.PostAsync(url, content);
        var body = await Http.ExpectAsync(response, status);
        if (status == 201) Assert.Equal($"/v1/artifacts/{body.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        return body;
    }

    [SkippableFact]
    public async Task A_file_is_stored_with_its_size_and_sha256_and_read_back_whole()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("files");
        using var _ = client;
        var bytes = RandomNumberGenerator.GetBytes(300_000);

        var artifact = await UploadAsync(client, bytes, "weights.bin");

        var id = artifact.GetProperty("id").GetString()!;
        Assert.Equal("weights.bin", artifact.GetProperty("name").GetString());
        Assert.Equal("file", artifact.GetProperty("kind").GetString());
        Assert.Equal(bytes.Length, artifact.GetProperty("size_bytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), artifact.GetProperty("sha256").GetString());
        Assert.Equal($"artifact://{id}", artifact.GetProperty("uri").GetString());
        using (var get = await client.GetAsync($"/v1/artifacts/{id}"))
        {
            Assert.Equal(artifact.GetProperty("sha256").GetString(), (await Http.ExpectAsync(get, 200)).GetProperty("sha256").GetString());
        }
        using (var content = await client.GetAsync($"/v1/artifacts/{id}/content"))
        {
            Assert.Equal(200, (int)content.StatusCode);
            Assert.Equal(bytes, await content.Content.ReadAsByteArrayAsync());
        }
        var archive = await UploadAsync(client, TestArchives.Create(TestEntry.File("a.txt", "a")), "code.tar.gz");
        Assert.Equal("archive", archive.GetProperty("kind").GetString());
        using (var list = await client.GetAsync("/v1/artifacts?limit=1"))
        {
            var page = await Http.ExpectAsync(list, 200);
            Assert.Equal(archive.GetProperty("id").GetString(), Assert.Single(page.EnumerateArray()).GetProperty("id").GetString());
            using var next = await client.GetAsync(Http.NextLink(list) ?? throw new Xunit.Sdk.XunitException("No next page."));
            Assert.Equal(id, Assert.Single((await Http.ExpectAsync(next, 200)).EnumerateArray()).GetProperty("id").GetString());
        }
    }

    [SkippableFact]
    public async Task Another_tenants_artifact_is_404_on_every_route_and_cannot_be_named_in_a_job()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, owner) = await app.TenantClientAsync("owner");
        var (_, other) = await app.TenantClientAsync("other", Roles.Owner);
        using var _o = owner;
        using var _t = other;
        var id = (await UploadAsync(owner, TestArchives.Create(TestEntry.File("train.py", "print(1)")), "code.tar.gz")).GetProperty("id").GetString()!;

        foreach (var route in new[] { $"/v1/artifacts/{id}", $"/v1/artifacts/{id}/content" })
        {
            using var response = await other.GetAsync(route);
            var problem = await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
            using var missing = await other.GetAsync(route.Replace(id, Guid.NewGuid().ToString(), StringComparison.Ordinal));
            Assert.Equal(problem.GetProperty("title").GetString(), (await Http.ExpectProblemAsync(missing, 404, ProblemTypes.NotFound)).GetProperty("title").GetString());
        }
        using (var list = await other.GetAsync("/v1/artifacts"))
        {
            Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
        using (var submit = await other.PostAsJsonAsync("/v1/jobs/training", new { name = "steal", entrypoint = "true", data_path = $"artifact://{id}", code_artifact = $"artifact://{id}" }))
        {
            var problem = await Http.ExpectValidationAsync(submit, "data_path", "code_artifact");
            Assert.Contains("not found in this tenant", problem.GetProperty("errors").GetProperty("data_path")[0].GetString(), StringComparison.Ordinal);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestArchives.HostileKinds), MemberType = typeof(TestArchives))]
    public async Task A_hostile_archive_is_refused_at_upload_and_nothing_is_stored(string kind)
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("hostile");
        using var _ = client;

        using var content = new ByteArrayContent(TestArchives.Hostile(kind));
        using var response = await client.PostAsync("/v1/artifacts?name=code.tar.gz", content);

        var problem = await Http.ExpectValidationAsync(response, "body");
        Assert.Contains("not an archive this server extracts", problem.GetProperty("errors").GetProperty("body")[0].GetString(), StringComparison.Ordinal);
        using var list = await client.GetAsync("/v1/artifacts");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(app.DataPath, "uploads")));
    }

    [SkippableTheory]
    [InlineData("", "file", "name")]
    [InlineData("../etc/passwd", "file", "name")]
    [InlineData("ok.csv", "zip", "kind")]
    public async Task An_upload_with_a_bad_name_or_kind_is_refused(string name, string kind, string field)
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("badname");
        using var _ = client;
        using var content = new ByteArrayContent("x"u8.ToArray());
        using var response = await client.PostAsync($"/v1/artifacts?name={Uri.EscapeDataString(name)}&kind={kind}", content);
        await Http.ExpectValidationAsync(response, field);
    }

    [SkippableFact]
    public async Task A_viewer_cannot_upload()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, viewer) = await app.TenantClientAsync("viewer", Roles.Viewer);
        using var _ = viewer;
        using var content = new ByteArrayContent("x"u8.ToArray());
        using var response = await viewer.PostAsync("/v1/artifacts?name=x.csv", content);
        await Http.ExpectProblemAsync(response, 403, ProblemTypes.Forbidden);
    }

    [SkippableFact]
    public async Task A_job_gets_an_uploaded_file_as_DATA_PATH_and_runs_in_a_copy_of_uploaded_code()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("runs");
        using var _ = client;
        var data = await UploadAsync(client, Encoding.UTF8.GetBytes("tenure,churned\n3,1\n"), "churn.csv");
        var code = await UploadAsync(client, TestArchives.Create(
            TestEntry.Folder("pkg/"),
            TestEntry.File("pkg/helper.py", "GREETING = 'from the package'\n"),
            TestEntry.File("train.py", "import os, pkg.helper\nprint(pkg.helper.GREETING)\nprint('data:', open(os.environ['DATA_PATH']).read().splitlines()[1])\nopen('written-by-job', 'w').write('x')\n")),
            "code.tar.gz");

        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "uses-artifacts",
            entrypoint = "python3 train.py",
            data_path = data.GetProperty("uri").GetString(),
            code_artifact = code.GetProperty("uri").GetString(),
        });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);

        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();
        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        Assert.Contains("from the package", output, StringComparison.Ordinal);
        Assert.Contains("data: 3,1", output, StringComparison.Ordinal);
        // The spec keeps the artifact URIs: the materialised copies belong to the attempt.
        Assert.Equal(data.GetProperty("uri").GetString(), done.GetProperty("spec").GetProperty("data_path").GetString());
    }

    [SkippableFact]
    public async Task A_data_archive_is_extracted_to_a_folder_named_in_DATA_PATH()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("folders");
        using var _ = client;
        var data = await UploadAsync(client, TestArchives.Create(TestEntry.File("train/part-0.csv", "a\n1\n"), TestEntry.Symlink("latest.csv", "train/part-0.csv")), "dataset.tar.gz");

        var job = await StrataApp.SubmitAsync(client, new { name = "folder-data", entrypoint = "cat \"$DATA_PATH/latest.csv\"", data_path = data.GetProperty("uri").GetString() });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);

        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        var output = await logs.Content.ReadAsStringAsync();
        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        Assert.Equal("a\n1\n", output);
    }

    [SkippableTheory]
    [InlineData("artifact://not-a-uuid", "data_path")]
    [InlineData("artifact://00000000-0000-0000-0000-000000000000/../x", "data_path")]
    public async Task A_malformed_artifact_uri_is_refused(string uri, string field)
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("uris");
        using var _ = client;
        using var response = await client.PostAsJsonAsync("/v1/jobs/training", new Dictionary<string, string> { ["name"] = "u", [field] = uri });
        await Http.ExpectValidationAsync(response, field);
    }
}

public sealed class SqliteArtifactApiTests(SqliteApp app) : ArtifactApiTests<SqliteApp>(app);

public sealed class PostgresArtifactApiTests(PostgresApp app) : ArtifactApiTests<PostgresApp>(app);
