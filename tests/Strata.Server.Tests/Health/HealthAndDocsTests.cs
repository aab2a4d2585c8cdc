using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Health;

public sealed class HealthAndDocsTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task Health_answers_in_the_seed_shape_without_a_token()
    {
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/v1/health");
        var body = await Http.ExpectAsync(response, 200);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal("strata", body.GetProperty("service").GetString());
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Liveness_and_readiness_answer_200_without_a_token(string path)
    {
        using var client = app.AnonymousClient();
        // Readiness waits for the scheduler to load its queue at start: ask until it is ready (or give up).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var response = await client.GetAsync(path);
        while ((int)response.StatusCode == 503 && DateTime.UtcNow < deadline)
        {
            response.Dispose();
            await Task.Delay(50);
            response = await client.GetAsync(path);
        }
        using (response)
        {
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task The_OpenAPI_document_is_JSON_that_lists_the_training_jobs_route()
    {
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/openapi/v1.json");
        var document = await Http.ExpectAsync(response, 200);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var paths = document.GetProperty("paths");
        Assert.Equal(JsonValueKind.Object, paths.GetProperty("/v1/jobs/training").ValueKind);
        Assert.Equal(JsonValueKind.Object, paths.GetProperty("/v1/jobs/training/{id}").ValueKind);
        Assert.Equal(JsonValueKind.Object, paths.GetProperty("/v1/tenants").ValueKind);
    }

    [Fact]
    public async Task The_docs_page_is_HTML_without_a_token()
    {
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/docs");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);
        // The reference of this API only: Scalar's hosted AI chat, MCP and deployment toolbar are off.
        Assert.Contains("\"agent\":{\"disabled\":true}", page, StringComparison.Ordinal);
        Assert.Contains("\"mcp\":{\"disabled\":true}", page, StringComparison.Ordinal);
        Assert.Contains("\"showDeveloperTools\":\"never\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_servers_address_in_a_browser_leads_to_the_dashboards_sign_in_which_links_the_docs_not_to_a_401()
    {
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("/ui/signin", response.RequestMessage!.RequestUri!.AbsolutePath);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("href=\"/docs\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
