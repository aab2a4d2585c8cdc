using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Strata.Contracts;
using Strata.Server.Hosting;
using Strata.Server.Tests.Dashboards;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Health;

/// <summary>
/// The OpenAPI document is a reference worth reading: it lints clean with Redocly's recommended rules
/// (redocly.yaml), run for real when scripts/test provides the linter (<c>STRATA_TEST_REDOCLY</c>), and the
/// same rules are checked here in process on every run: what the API is and its licence, tags that say what
/// they hold, a server URL without a trailing slash, problems (as ProblemDetails) on every operation, and a
/// schema with an example for every body.
/// </summary>
public sealed class ApiReferenceTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private const string ProblemSchema = "#/components/schemas/ProblemDetails";
    /// <summary>What every route with a body can answer: a body it cannot use, a body over its limit.</summary>
    private static readonly string[] BodyProblems = ["400", "413"];
    /// <summary>Words of the implementation, not of the API: a course the server grew from, .NET's namespaces and types.</summary>
    private static readonly string[] ImplementationWords = ["seed course", "System.", "Microsoft.", "Strata.Contracts", "Strata.Server", "Nullable`"];

    [Fact]
    public async Task The_document_says_what_the_api_is_under_which_licence_and_what_each_tag_holds()
    {
        var document = await DocumentAsync();

        var info = document["info"]!;
        Assert.False(string.IsNullOrWhiteSpace((string?)info["description"]));
        Assert.Equal("Proprietary", (string?)info["license"]?["name"]);
        Assert.True(info["license"]?["identifier"] is not null || info["license"]?["url"] is not null, "The licence needs an SPDX identifier or a URL.");
        Assert.Equal("http://strata.internal", (string?)document["servers"]?[0]?["url"]);

        var declared = document["tags"]!.AsArray().ToDictionary(tag => (string)tag!["name"]!, tag => (string?)tag!["description"]);
        Assert.All(declared, tag => Assert.False(string.IsNullOrWhiteSpace(tag.Value), $"Tag '{tag.Key}' has no description."));
        var used = Operations(document).SelectMany(o => o.Operation["tags"]?.AsArray() ?? []).Select(tag => (string)tag!).ToHashSet();
        Assert.Equal(declared.Keys.Order(StringComparer.Ordinal), used.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Every_operation_has_a_summary_and_documents_its_problems_as_ProblemDetails_with_an_example()
    {
        var document = await DocumentAsync();
        var problems = new List<string>();
        foreach (var (name, operation) in Operations(document))
        {
            if (string.IsNullOrWhiteSpace((string?)operation["summary"])) problems.Add($"{name}: no summary");
            var responses = operation["responses"]!.AsObject();
            if (!responses.Any(r => r.Key.StartsWith('4'))) problems.Add($"{name}: no 4xx answer");
            // A 5xx is a problem too, but for a deployment's health, whose 503 is its usual answer.
            foreach (var (status, response) in responses.Where(r => r.Key[0] == '4' || (r.Key[0] == '5' && r.Value!["content"]?["application/json"] is null)))
            {
                var problem = response!["content"]?["application/problem+json"];
                if ((string?)problem?["schema"]?["$ref"] != ProblemSchema) problems.Add($"{name}: its {status} is not a ProblemDetails as application/problem+json");
                else if (problem["example"] is null) problems.Add($"{name}: its {status} has no example");
                if (string.IsNullOrWhiteSpace((string?)response["description"]) || (string?)response["description"] == Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(int.Parse(status)))
                {
                    problems.Add($"{name}: its {status} does not say when it happens");
                }
            }
            if (operation["requestBody"] is not null)
            {
                foreach (var status in BodyProblems.Where(s => !responses.ContainsKey(s))) problems.Add($"{name}: takes a body but documents no {status}");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public async Task The_problems_particular_to_an_operation_name_operations_that_exist()
    {
        var names = Operations(await DocumentAsync()).Select(o => (string?)o.Operation["operationId"]).ToHashSet();
        Assert.All(ApiReference.Particular.Keys, name => Assert.Contains(name, names));
    }

    [Fact]
    public async Task Every_request_and_response_body_has_a_schema_and_an_example()
    {
        var document = await DocumentAsync();
        var problems = new List<string>();
        foreach (var (name, operation) in Operations(document))
        {
            var bodies = (operation["requestBody"]?["content"]?.AsObject() ?? []).Select(media => ($"{name} request ({media.Key})", media.Value!))
                .Concat(operation["responses"]!.AsObject().SelectMany(response => (response.Value!["content"]?.AsObject() ?? [])
                    .Select(media => ($"{name} {response.Key} ({media.Key})", media.Value!))));
            foreach (var (body, media) in bodies)
            {
                var schema = media["schema"];
                if (schema is null) problems.Add($"{body}: no schema");
                // A file's bytes (application/octet-stream, application/gzip) have no example a document could show.
                else if (media["example"] is null && media["examples"] is null && (string?)Resolve(document, schema)["format"] != "binary") problems.Add($"{body}: no example");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public async Task A_prediction_documents_its_instances_in_and_its_predictions_out()
    {
        var document = await DocumentAsync();
        var predict = document["paths"]!["/v1/deployments/{name}/predict"]!["post"]!;

        Assert.Equal("#/components/schemas/PredictionRequest", (string?)predict["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        var batch = predict["requestBody"]!["content"]!["application/json"]!["examples"]!["batch"]!["value"]!;
        Assert.Equal(2, batch["instances"]!.AsArray().Count);
        Assert.Equal("#/components/schemas/PredictionAnswer", (string?)predict["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]);
        Assert.NotNull(document["components"]!["schemas"]!["PredictionAnswer"]!["properties"]!["predictions"]);
        // A replica's answers: a body it cannot use (400), too large (413), no ready replica (503); not rate-limited, and any media type is read as JSON.
        Assert.Equal(["200", "400", "401", "403", "404", "413", "500", "503"], predict["responses"]!.AsObject().Select(r => r.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_example_of_a_contract_reads_as_that_contract()
    {
        var contracts = typeof(TrainingJob).Assembly.GetTypes().Where(t => t.IsPublic).ToDictionary(t => t.Name);
        var problems = new List<string>();
        foreach (var (schema, example) in ApiReference.SchemaExamples.Value)
        {
            if (!contracts.TryGetValue(schema, out var type))
            {
                problems.Add($"{schema}: no such contract type");
                continue;
            }
            try
            {
                // Strict: a field the contract does not have (a typo, a renamed field) is an error.
                JsonSerializer.Deserialize(example!.ToJsonString(), type, StrataJson.Options);
            }
            catch (JsonException e)
            {
                problems.Add($"{schema}: {e.Message}");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public async Task No_summary_or_description_speaks_of_the_implementation_rather_than_to_the_user()
    {
        var text = (await DocumentAsync()).ToJsonString();
        foreach (var word in ImplementationWords)
        {
            Assert.DoesNotContain(word, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    [SkippableFact]
    public async Task The_document_lints_clean_with_redocly()
    {
        var redocly = Environment.GetEnvironmentVariable("STRATA_TEST_REDOCLY");
        Skip.If(string.IsNullOrWhiteSpace(redocly),
            "The OpenAPI linter is not installed: run scripts/test, which installs @redocly/cli into .tools/redocly and sets STRATA_TEST_REDOCLY.");
        var file = Path.Combine(Path.GetTempPath(), $"strata-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, (await DocumentAsync()).ToJsonString());
        try
        {
            var start = new ProcessStartInfo(redocly!)
            {
                ArgumentList = { "lint", file, "--config", Path.Combine(DashboardFiles.RepositoryRoot, "redocly.yaml"), "--format", "json" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                // Offline and quiet: no usage report, no look for a newer version.
                Environment = { ["REDOCLY_TELEMETRY"] = "off", ["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true" },
            };
            using var process = System.Diagnostics.Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var report = JsonNode.Parse(await output)!;
            var totals = report["totals"]!;
            var found = report["problems"]!.AsArray().Select(p => $"{p!["ruleId"]}: {p["message"]} at {p["location"]?[0]?["pointer"]}");
            Assert.True((int)totals["errors"]! == 0 && (int)totals["warnings"]! == 0 && process.ExitCode == 0,
                $"redocly lint (exit {process.ExitCode}):\n{string.Join('\n', found)}\n{await errors}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Every_route_of_a_job_says_its_id_may_be_a_prefix_or_a_name_and_documents_the_ambiguous_409()
    {
        var document = await DocumentAsync();
        var routes = Operations(document).Where(o => o.Name.Contains(" /v1/jobs/training/{id}", StringComparison.Ordinal)).ToList();
        Assert.True(routes.Count >= 7, string.Join(", ", routes.Select(r => r.Name)));
        foreach (var (name, operation) in routes)
        {
            var id = operation["parameters"]!.AsArray().Single(p => (string?)p!["name"] == "id")!;
            Assert.Contains("unique prefix of its id", (string?)id["description"], StringComparison.Ordinal);
            Assert.True(operation["responses"]?["409"]?["description"]?.GetValue<string>().Contains("`candidates`", StringComparison.Ordinal) == true, name);
        }
    }

    private async Task<JsonNode> DocumentAsync()
    {
        using var client = app.AnonymousClient();
        // The document names the address it was fetched from as the server's; a published one names a real host, not localhost.
        client.DefaultRequestHeaders.Host = "strata.internal";
        using var response = await client.GetAsync("/openapi/v1.json");
        return JsonNode.Parse((await Http.ExpectAsync(response, 200)).GetRawText())!;
    }

    private static IEnumerable<(string Name, JsonNode Operation)> Operations(JsonNode document) =>
        document["paths"]!.AsObject().SelectMany(path => path.Value!.AsObject()
            .Where(method => method.Key != "parameters")
            .Select(method => ($"{method.Key.ToUpperInvariant()} {path.Key}", method.Value!)));

    private static JsonNode Resolve(JsonNode document, JsonNode schema) =>
        (string?)schema["$ref"] is { } reference ? document["components"]!["schemas"]![reference.Split('/')[^1]]! : schema;
}
