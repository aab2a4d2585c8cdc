using System.Text.Json;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Health;

/// <summary>
/// The OpenAPI document holds to the rules of Redocly's recommended lint set that it can: what the API is, tags
/// that say what they hold, a server URL without a trailing slash, and at least one 4xx answer, as a problem, on
/// every operation that can give one. Two rules are not met, on purpose: the document names no licence (the
/// project has none yet) and the anonymous health routes document no 4xx (they have none).
/// </summary>
public sealed class ApiReferenceTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    [Fact]
    public async Task The_document_describes_the_api_its_tags_and_the_problems_of_every_protected_operation()
    {
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/openapi/v1.json");
        var document = await Http.ExpectAsync(response, 200);

        Assert.False(string.IsNullOrWhiteSpace(document.GetProperty("info").GetProperty("description").GetString()));
        if (document.TryGetProperty("servers", out var servers))
        {
            Assert.All(servers.EnumerateArray(), server => Assert.False(server.GetProperty("url").GetString()!.EndsWith('/'), server.ToString()));
        }
        var described = document.GetProperty("tags").EnumerateArray()
            .Where(tag => !string.IsNullOrWhiteSpace(tag.TryGetProperty("description", out var d) ? d.GetString() : null))
            .Select(tag => tag.GetProperty("name").GetString()).ToHashSet();

        var problems = new List<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                var tags = operation.Value.TryGetProperty("tags", out var t) ? t.EnumerateArray().Select(x => x.GetString()).ToList() : [];
                problems.AddRange(tags.Where(tag => !described.Contains(tag)).Select(tag => $"{name}: tag '{tag}' has no description"));
                if (string.IsNullOrWhiteSpace(operation.Value.TryGetProperty("summary", out var summary) ? summary.GetString() : null)) problems.Add($"{name}: no summary");
                if (path.Name is "/v1/health" or "/health/live" or "/health/ready") continue;
                var errors = operation.Value.GetProperty("responses").EnumerateObject().Where(r => r.Name.StartsWith('4')).ToList();
                if (errors.Count == 0) problems.Add($"{name}: no 4xx answer");
                foreach (var error in errors.Where(e => !e.Value.TryGetProperty("content", out var c) || !c.TryGetProperty("application/problem+json", out _)))
                {
                    problems.Add($"{name}: its {error.Name} is not a problem+json");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        Assert.DoesNotContain("seed course", document.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }
}
