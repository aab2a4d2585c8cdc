using System.Text.Json;
using Strata.Server.Tests.Process;

namespace Strata.Server.Tests.Observability;

/// <summary><c>Logging:Format=json</c>: the built server logs one JSON object a line, with its job scopes.</summary>
[Collection(ServerProcessCollection.Name)]
public sealed class JsonLogTests
{
    [Fact]
    public async Task With_the_json_format_every_line_is_a_json_object_and_job_lines_carry_tenant_job_and_attempt()
    {
        using var server = new ServerProcess(new Dictionary<string, string>
        {
            ["Logging__Format"] = "json",
            ["Logging__LogLevel__Default"] = "Information",
        });
        await server.StartAsync();
        using var api = await server.CreateTenantAsync("team-logs");
        var job = await api.SubmitAsync("""{"name":"fails","entrypoint":"exit 3","compute":{"cpu_cores":1,"memory_gb":1}}""");
        var id = job.GetProperty("id").GetString()!;
        await api.WaitForStatusAsync(id, "failed");

        JsonElement[] entries = [];
        await Wait.UntilAsync(() =>
        {
            entries = Entries(server);
            return Task.FromResult(entries.Any(e => ScopeOf(e, id) is not null));
        }, $"a log line in the scope of job {id}", server);

        Assert.Contains(entries, e => e.GetProperty("Category").GetString() == "Strata.Server.Hosting.StartupBanner");
        var scoped = entries.First(e => ScopeOf(e, id) is not null);
        var scope = ScopeOf(scoped, id)!.Value;
        Assert.Equal("team-logs", scope.GetProperty("TenantId").GetString());
        Assert.Equal(1, scope.GetProperty("Attempt").GetInt32());
        Assert.Equal($"TenantId:team-logs JobId:{id} Attempt:1", scope.GetProperty("Message").GetString());
    }

    /// <summary>Every line the server wrote, each parsed as JSON (the test fails on any that is not).</summary>
    private static JsonElement[] Entries(ServerProcess server) =>
        File.ReadAllLines(server.LogPath)
            .Where(line => line.Length > 0 && !line.StartsWith("--- start", StringComparison.Ordinal))
            .Select(line =>
            {
                try
                {
                    using var document = JsonDocument.Parse(line);
                    Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
                    return document.RootElement.Clone();
                }
                catch (JsonException e)
                {
                    throw new Xunit.Sdk.XunitException($"Not a JSON log line ({e.Message}): {line}");
                }
            })
            .ToArray();

    private static JsonElement? ScopeOf(JsonElement entry, string jobId) =>
        entry.TryGetProperty("Scopes", out var scopes)
            ? scopes.EnumerateArray().Cast<JsonElement?>().FirstOrDefault(s => s!.Value.TryGetProperty("JobId", out var job) && job.GetString() == jobId)
            : null;
}
