using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Strata.Worker;
using Strata.Worker.Fetch;

namespace Strata.Worker.Tests;

/// <summary>
/// <c>strata-worker fetch</c>'s command line, the requests it makes, its retries of an API that answers 5xx, and the
/// schema.json it writes, against a stub API and a fake clock. The server's tests run it as a process against the real
/// API (ModelFetchProcessTests).
/// </summary>
public sealed class FetchTests : IDisposable
{
    private static readonly byte[] Model = [(byte)'P', (byte)'K', 3, 4, 42];
    private readonly string _folder = Directory.CreateTempSubdirectory("strata-fetch-unit-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("--model m --version 1 --out /tmp/x", "--url is required")]
    [InlineData("--url ftp://api --model m --version 1 --out /tmp/x", "--url must be the API's http or https address")]
    [InlineData("--url http://api --version 1 --out /tmp/x", "--model is required")]
    [InlineData("--url http://api --model m --out /tmp/x", "--version is required")]
    [InlineData("--url http://api --model m --version 1", "--out is required")]
    [InlineData("--url http://api --model m --version 1 --out /tmp/x --retry-for-seconds 0", "--retry-for-seconds must be")]
    [InlineData("--url http://api --model m --version 1 --out /tmp/x --colour blue", "unexpected argument '--colour'")]
    [InlineData("--url http://api --model m --version 1 --out /tmp/x --token-file /nonexistent/token", "--token-file /nonexistent/token:")]
    public void A_bad_command_line_is_refused_with_its_reason(string line, string reason)
    {
        var options = FetchOptions.Parse(line.Split(' '), _ => "a-token", out var problem);
        Assert.Null(options);
        Assert.StartsWith(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_token_is_the_token_files_else_the_environments()
    {
        string[] args = ["--url", "http://api:8080", "--model", "churn", "--version", "production", "--out", "/tmp/x"];
        Assert.Equal("from-env", FetchOptions.Parse(args, name => name == FetchOptions.TokenVariable ? "from-env\n" : null, out _)!.Token);
        Assert.Null(FetchOptions.Parse(args, _ => null, out var problem));
        Assert.Contains(FetchOptions.TokenVariable, problem, StringComparison.Ordinal);

        var file = Path.GetTempFileName();
        File.WriteAllText(file, "from-file\n");
        var options = FetchOptions.Parse([.. args, "--token-file", file], _ => "from-env", out _)!;
        File.Delete(file);
        Assert.Equal("from-file", options.Token);
        Assert.Equal(TimeSpan.FromSeconds(FetchOptions.DefaultRetrySeconds), options.RetryFor);
    }

    [Theory]
    [InlineData("http://api:8080", "http://api:8080/")]
    [InlineData("http://host/strata", "http://host/strata/")]
    [InlineData("https://host/strata/", "https://host/strata/")]
    public void The_api_address_keeps_its_path_prefix(string url, string api)
    {
        var options = FetchOptions.Parse(["--url", url, "--model", "m", "--version", "1", "--out", "/tmp/x"], _ => "t", out _)!;
        Assert.Equal(new Uri(api), options.Api);
    }

    [Fact]
    public async Task An_api_answering_503_is_asked_again_until_it_sends_the_file()
    {
        var api = new StubApi(file: [HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK]);
        var (command, time, folder, error) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(0, exit);
        Assert.Equal(3, api.FileRequests);
        Assert.Equal(Model, await File.ReadAllBytesAsync(Path.Combine(folder, "model.zip")));
        Assert.Equal(2, error.ToString().Split('\n').Count(line => line.StartsWith("fetch: the API answered 503", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_api_answering_503_to_the_version_is_asked_again_before_the_file_is_asked_for()
    {
        var api = new StubApi(version: [HttpStatusCode.ServiceUnavailable, HttpStatusCode.TooManyRequests, HttpStatusCode.OK]);
        var (command, time, folder, error) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(0, exit);
        Assert.Equal(["versions/1", "versions/1", "versions/1", "versions/1/file"], api.Routes);
        Assert.Equal(Model, await File.ReadAllBytesAsync(Path.Combine(folder, "model.zip")));
        Assert.Equal(2, error.ToString().Split('\n').Count(line => line.StartsWith("fetch: the API answered", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_api_that_answers_503_for_the_whole_retry_time_is_given_up_on()
    {
        var api = new StubApi(version: [HttpStatusCode.ServiceUnavailable]);
        var (command, time, folder, error) = Command(api, TimeSpan.FromSeconds(30));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(ExitCodes.FetchUnavailable, exit);
        Assert.Contains("error: gave up after 30 s: the API answered 503", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, api.FileRequests);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task An_alias_is_resolved_once_and_the_file_asked_for_by_the_number_it_named()
    {
        var api = new StubApi(number: 3);
        var (command, time, _, _) = Command(api, TimeSpan.FromDays(1), version: "production");

        var exit = await RunAdvancingAsync(command, time);

        // The file by number: an alias moved after the first request cannot pair another version's file with this schema.
        Assert.Equal(0, exit);
        Assert.Equal(["versions/production", "versions/3/file"], api.Routes);
    }

    [Fact]
    public async Task The_versions_input_schema_is_written_compact_beside_the_model()
    {
        var api = new StubApi(schema: """
            { "task": "binary", "columns": [ { "name": "income", "type": "categorical", "levels": ["<50k", ">=50k"] } ] }
            """);
        var (command, time, folder, _) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(0, exit);
        Assert.Equal("""{"task":"binary","columns":[{"name":"income","type":"categorical","levels":["<50k",">=50k"]}]}""",
            await File.ReadAllTextAsync(Path.Combine(folder, "schema.json")));
        Assert.Equal(["model.zip", "schema.json"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_version_without_a_schema_removes_an_earlier_versions_schema()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder, "schema.json"), """{"columns":[]}""");
        var api = new StubApi(schema: null);
        var (command, time, folder, _) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(0, exit);
        Assert.Equal(["model.zip"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    public async Task A_version_the_api_refuses_is_not_retried_and_its_file_not_asked_for(HttpStatusCode status)
    {
        var api = new StubApi(version: [status]);
        var (command, time, folder, error) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(ExitCodes.FetchRefused, exit);
        Assert.Equal(["versions/1"], api.Routes);
        Assert.Equal($"error: the API answered {(int)status}: starting", error.ToString().Trim());
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task A_version_answer_that_is_not_a_version_is_an_error_and_not_retried()
    {
        var api = new StubApi(versionBody: "<html>a proxy's page</html>");
        var (command, time, folder, error) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(ExitCodes.FetchCorrupt, exit);
        Assert.Equal(["versions/1"], api.Routes);
        Assert.StartsWith("error: the API's answer for model 'churn' version '1' is not a model version", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task An_output_folder_that_cannot_be_made_is_an_error_and_not_retried()
    {
        var api = new StubApi();
        var file = Path.Combine(_folder, "a-file");
        await File.WriteAllTextAsync(file, "not a folder");
        var error = new StringWriter();
        var options = new FetchOptions(new Uri("http://api.test/"), "churn", "1", Path.Combine(file, "model"), "a-token", TimeSpan.FromDays(1));

        var exit = await new FetchCommand(options, api, new FakeTimeProvider(), new StringWriter(), error).RunAsync(CancellationToken.None);

        Assert.Equal(ExitCodes.FetchCannotWrite, exit);
        Assert.StartsWith("error: cannot write the model to", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(api.Routes);
    }

    private (FetchCommand Command, FakeTimeProvider Time, string Folder, StringWriter Error) Command(StubApi api, TimeSpan retryFor, string version = "1")
    {
        var options = new FetchOptions(new Uri("http://api.test/"), "churn", version, _folder, "a-token", retryFor);
        var time = new FakeTimeProvider();
        var error = new StringWriter();
        return (new FetchCommand(options, api, time, new StringWriter(), error), time, _folder, error);
    }

    /// <summary>Runs the command, moving the fake clock on while it waits between tries.</summary>
    private static async Task<int> RunAdvancingAsync(FetchCommand command, FakeTimeProvider time)
    {
        var run = Task.Run(() => command.RunAsync(CancellationToken.None));
        while (!run.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }
        return await run;
    }

    /// <summary>
    /// The API's two routes of model <c>churn</c>: a version (by number or alias) and a version's file. Each answers
    /// with the next of its statuses (the last one repeats); 200 is version <paramref name="number"/> with
    /// <paramref name="schema"/> as its <c>input_schema</c> (or <paramref name="versionBody"/>), or the model with its
    /// sha256 as ETag. Routes are recorded relative to <c>/v1/models/churn/</c>.
    /// </summary>
    private sealed class StubApi(
        HttpStatusCode[]? version = null, HttpStatusCode[]? file = null, int number = 1, string? schema = null, string? versionBody = null)
        : HttpMessageHandler
    {
        private const string Prefix = "/v1/models/churn/";
        private readonly List<string> _routes = [];

        public IReadOnlyList<string> Routes
        {
            get { lock (_routes) return [.. _routes]; }
        }

        public int FileRequests => Routes.Count(r => r.EndsWith("/file", StringComparison.Ordinal));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Equal("Bearer a-token", request.Headers.Authorization?.ToString());
            var path = request.RequestUri!.AbsolutePath;
            Assert.StartsWith(Prefix, path, StringComparison.Ordinal);
            var route = path[Prefix.Length..];
            int seen;
            lock (_routes)
            {
                _routes.Add(route);
                seen = _routes.Count(r => r.EndsWith("/file", StringComparison.Ordinal) == route.EndsWith("/file", StringComparison.Ordinal));
            }
            var isFile = route.EndsWith("/file", StringComparison.Ordinal);
            var answers = (isFile ? file : version) ?? [HttpStatusCode.OK];
            var status = answers[Math.Min(seen, answers.Length) - 1];
            var response = new HttpResponseMessage(status);
            if (status != HttpStatusCode.OK)
            {
                response.Content = new StringContent("""{"title":"Unavailable","detail":"starting"}""");
            }
            else if (isFile)
            {
                response.Content = new ByteArrayContent(Model);
                response.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(Model))}\"");
            }
            else
            {
                response.Content = new StringContent(versionBody ?? $$"""{"model_name":"churn","version":{{number}},"input_schema":{{schema ?? "null"}}}""");
            }
            return Task.FromResult(response);
        }
    }
}
