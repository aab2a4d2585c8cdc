using System.Net.Http.Json;
using System.Text;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Jobs;

/// <summary>Every refused submission is a 400 (or 413, 415) problem that names what is wrong, and stores nothing.</summary>
public sealed class JobValidationTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly string TooManyEnvVars =
        "{" + string.Join(',', Enumerable.Range(0, 101).Select(i => $"\"VAR_{i}\":\"x\"")) + "}";

    public static TheoryData<string, string[]> InvalidSpecs => new()
    {
        { "{\"entrypoint\":\"true\"}", ["name"] },
        { "{\"name\":\"\",\"entrypoint\":\"true\"}", ["name"] },
        { "{\"name\":\"ok\",\"compute\":{\"type\":\"quantum\"}}", ["compute.type"] },
        { "{\"name\":\"ok\",\"compute\":{\"cpu_cores\":0}}", ["compute.cpu_cores"] },
        { "{\"name\":\"ok\",\"compute\":{\"cpu_cores\":97}}", ["compute.cpu_cores"] },
        { "{\"name\":\"ok\",\"compute\":{\"memory_gb\":0}}", ["compute.memory_gb"] },
        { "{\"name\":\"ok\",\"compute\":{\"memory_gb\":769}}", ["compute.memory_gb"] },
        { "{\"name\":\"ok\",\"compute\":{\"type\":\"cpu\",\"gpu_count\":1}}", ["compute.gpu_count"] },
        { "{\"name\":\"ok\",\"compute\":{\"type\":\"gpu\",\"gpu_count\":9}}", ["compute.gpu_count"] },
        { "{\"name\":\"ok\",\"compute\":{\"max_processes\":0}}", ["compute.max_processes"] },
        { "{\"name\":\"ok\",\"compute\":{\"max_processes\":65537}}", ["compute.max_processes"] },
        { "{\"name\":\"ok\",\"compute\":{\"disk_gb\":0}}", ["compute.disk_gb"] },
        { "{\"name\":\"ok\",\"compute\":{\"disk_gb\":20000}}", ["compute.disk_gb"] },
        { $"{{\"name\":\"{new string('a', 64)}\"}}", ["name"] },
        { "{\"name\":\"MyJob\"}", ["name"] },
        { "{\"name\":\"my_job\"}", ["name"] },
        { "{\"name\":\"job-\"}", ["name"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"1BAD\":\"x\"}}", ["env_vars.1BAD"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"MY-VAR\":\"x\"}}", ["env_vars.MY-VAR"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"DATA_PATH\":\"/tmp\"}}", ["env_vars.DATA_PATH"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"MODEL_OUTPUT_PATH\":\"/tmp\"}}", ["env_vars.MODEL_OUTPUT_PATH"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"STRATA_X\":\"1\"}}", ["env_vars.STRATA_X"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"STRATA_JOB_TOKEN\":\"forged\"}}", ["env_vars.STRATA_JOB_TOKEN"] },
        { "{\"name\":\"ok\",\"env_vars\":{\"HYPERPARAM_LR\":\"1\"}}", ["env_vars.HYPERPARAM_LR"] },
        { "{\"name\":\"ok\",\"env_vars\":" + TooManyEnvVars + "}", ["env_vars"] },
        { "{\"name\":\"ok\",\"data_path\":\"../other-tenant/data\"}", ["data_path"] },
        { "{\"name\":\"ok\",\"data_path\":\"data/../../x\"}", ["data_path"] },
        { "{\"name\":\"ok\",\"data_path\":\"/etc/passwd\"}", ["data_path"] },
        { "{\"name\":\"ok\",\"data_path\":\"file:///etc\"}", ["data_path"] },
        { "{\"name\":\"ok\",\"data_path\":\"s3://bucket/../x\"}", ["data_path"] },
        { "{\"name\":\"ok\",\"model_output_path\":\"/etc\"}", ["model_output_path"] },
        { "{\"name\":\"ok\",\"hyperparameters\":{\"lr\":{\"nested\":1}}}", ["hyperparameters.lr"] },
        { "{\"name\":\"ok\",\"priority\":1001}", ["priority"] },
        { "{\"name\":\"ok\",\"retry\":{\"max_attempts\":0}}", ["retry.max_attempts"] },
        { "{\"name\":\"ok\",\"timeout_seconds\":0}", ["timeout_seconds"] },
        { "{\"name\":\"ok\",\"entrypoint\":\"\"}", ["entrypoint"] },
        // Within the API's range, but larger than this runtime's whole capacity (8 cores, 16 GB): it could never start.
        { "{\"name\":\"ok\",\"compute\":{\"cpu_cores\":96}}", ["compute"] },
        { "{\"name\":\"ok\",\"compute\":{\"memory_gb\":64}}", ["compute"] },
        { "{\"name\":\"ok\",\"compute\":{\"type\":\"gpu\",\"gpu_count\":1}}", ["compute"] },
        {
            "{\"name\":\"Bad_Name\",\"compute\":{\"cpu_cores\":0,\"memory_gb\":769},\"data_path\":\"../x\",\"env_vars\":{\"STRATA_X\":\"1\"},\"priority\":-1001}",
            ["name", "compute.cpu_cores", "compute.memory_gb", "data_path", "env_vars.STRATA_X", "priority"]
        },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public async Task An_invalid_spec_is_400_naming_every_bad_field_and_stores_nothing(string body, string[] fields)
    {
        var (_, client) = await app.TenantClientAsync("invalid");
        using var _ = client;
        using var response = await client.PostRawAsync("/v1/jobs/training", body);
        var problem = await Http.ExpectValidationAsync(response, fields);
        foreach (var field in fields)
        {
            Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        await AssertNothingStoredAsync(client);
    }

    public static TheoryData<string, string?> MalformedBodies => new()
    {
        { "{\"name\": ", null },
        { "not json", null },
        { "[]", null },
        { "[{\"name\":\"ok\"}]", null },
        { "null", null },
        { "\"a string\"", null },
        { "{\"nmae\":\"ok\"}", "nmae" },
        { "{\"name\":\"ok\",\"compute\":{\"cpu_cores\":\"4\"}}", "cpu_cores" },
        { "{\"name\":\"ok\",\"compute\":{\"cpu_cores\":1.5}}", "cpu_cores" },
        { "{\"name\":\"ok\",\"env_vars\":{\"A\":1}}", "env_vars" },
        { "{\"name\":\"ok\",\"compute\":{\"cpu\":4}}", "cpu" },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task A_body_that_is_not_a_spec_is_400_and_stores_nothing(string body, string? named)
    {
        var (_, client) = await app.TenantClientAsync("malformed");
        using var _ = client;
        using var response = await client.PostRawAsync("/v1/jobs/training", body);
        var problem = await Http.ExpectProblemAsync(response, 400, ProblemTypes.MalformedRequest);
        if (named is not null)
        {
            Assert.Contains(named, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        await AssertNothingStoredAsync(client);
    }

    [Fact]
    public async Task An_empty_body_is_400_and_stores_nothing()
    {
        var (_, client) = await app.TenantClientAsync("empty");
        using var _ = client;
        using var response = await client.PostRawAsync("/v1/jobs/training", "");
        await Http.ExpectProblemAsync(response, 400, ProblemTypes.MalformedRequest);
        await AssertNothingStoredAsync(client);
    }

    [Fact]
    public async Task A_body_over_64_KiB_is_413_whether_or_not_it_declares_its_length()
    {
        var (_, client) = await app.TenantClientAsync("huge");
        using var _ = client;
        var body = $"{{\"name\":\"big\",\"entrypoint\":\"true\",\"label\":\"{new string('x', 70 * 1024)}\"}}";

        using (var response = await client.PostRawAsync("/v1/jobs/training", body))
        {
            await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
        }
        // Chunked: the server finds out while reading.
        using (var content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(body))))
        {
            content.Headers.ContentType = new("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs/training") { Content = content };
            request.Headers.TransferEncodingChunked = true;
            using var response = await client.SendAsync(request);
            await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
        }
        await AssertNothingStoredAsync(client);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task A_body_that_is_not_JSON_by_content_type_is_415_and_stores_nothing(string mediaType)
    {
        var (_, client) = await app.TenantClientAsync("mediatype");
        using var _ = client;
        using var response = await client.PostRawAsync("/v1/jobs/training", "{\"name\":\"ok\",\"entrypoint\":\"true\"}", mediaType);
        var problem = await Http.ExpectAsync(response, 415);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(415, problem.GetProperty("status").GetInt32());
        await AssertNothingStoredAsync(client);
    }

    [Theory]
    [InlineData("/v1/jobs/training")]
    [InlineData("/v1/tenants")]
    public async Task A_415_has_a_stable_strata_type_and_a_detail(string path)
    {
        var (_, client) = await app.TenantClientAsync("mediatype-type");
        using var _ = client;
        using var admin = app.AdminClient();
        using var response = await (path == "/v1/tenants" ? admin : client).PostRawAsync(path, "{}", "text/plain");
        await Http.ExpectProblemAsync(response, 415, ProblemTypes.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("PUT", "/v1/jobs/training")]
    [InlineData("PATCH", "/v1/jobs/training")]
    [InlineData("POST", "/v1/jobs/training/00000000-0000-0000-0000-000000000000")]
    public async Task An_unsupported_method_is_a_405_problem(string method, string path)
    {
        var (_, client) = await app.TenantClientAsync("method");
        using var _ = client;
        using var response = await SendAsync(client, method, path);
        var problem = await Http.ExpectAsync(response, 405);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(405, problem.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("PUT", "/v1/jobs/training")]
    public async Task A_405_has_a_stable_strata_type(string method, string path)
    {
        var (_, client) = await app.TenantClientAsync("method-type");
        using var _ = client;
        using var response = await SendAsync(client, method, path);
        var problem = await Http.ExpectAsync(response, 405);
        Assert.StartsWith("urn:strata:problem:", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = Http.JsonText("{}") };
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task A_name_is_unique_among_active_jobs_only()
    {
        var (_, client) = await app.TenantClientAsync("unique");
        using var _ = client;
        var first = await StrataApp.SubmitAsync(client, new { name = "nightly", entrypoint = "sleep 30" });
        var firstId = first.GetProperty("id").GetString()!;

        using (var duplicate = await client.PostAsJsonAsync("/v1/jobs/training", new { name = "nightly", entrypoint = "true" }))
        {
            var problem = await Http.ExpectProblemAsync(duplicate, 409, ProblemTypes.Conflict);
            Assert.Contains("nightly", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var list = await client.GetAsync("/v1/jobs/training"))
        {
            Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }

        // Another tenant may use the same name at the same time.
        var (_, other) = await app.TenantClientAsync("unique-other");
        using (other)
        {
            var theirs = await StrataApp.SubmitAsync(other, new { name = "nightly", entrypoint = "true" });
            await StrataApp.WaitForEndAsync(other, theirs.GetProperty("id").GetString()!);
        }

        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{firstId}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        var second = await StrataApp.SubmitAsync(client, new { name = "nightly", entrypoint = "true" });
        await StrataApp.WaitForStatusAsync(client, second.GetProperty("id").GetString()!, "succeeded");
        var third = await StrataApp.SubmitAsync(client, new { name = "nightly", entrypoint = "true" });
        Assert.NotEqual(second.GetProperty("id").GetString(), third.GetProperty("id").GetString());
        await StrataApp.WaitForEndAsync(client, third.GetProperty("id").GetString()!);
    }

    private static async Task AssertNothingStoredAsync(HttpClient client)
    {
        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    /// <summary>A stream of unknown length, so that the request is sent chunked.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
