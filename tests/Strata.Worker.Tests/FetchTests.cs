using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Strata.Worker;
using Strata.Worker.Fetch;

namespace Strata.Worker.Tests;

/// <summary>
/// <c>strata-worker fetch</c>'s command line, and its retries of an API that answers 5xx, against a stub API and a
/// fake clock. The server's tests run it as a process against the real API (ModelFetchProcessTests).
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
        var api = new StubApi(HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK);
        var (command, time, folder, error) = Command(api, TimeSpan.FromDays(1));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(0, exit);
        Assert.Equal(3, api.Requests);
        Assert.Equal(Model, await File.ReadAllBytesAsync(Path.Combine(folder, "model.zip")));
        Assert.Equal(2, error.ToString().Split('\n').Count(line => line.StartsWith("fetch: the API answered 503", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_api_that_answers_503_for_the_whole_retry_time_is_given_up_on()
    {
        var api = new StubApi(HttpStatusCode.ServiceUnavailable);
        var (command, time, folder, error) = Command(api, TimeSpan.FromSeconds(30));

        var exit = await RunAdvancingAsync(command, time);

        Assert.Equal(ExitCodes.FetchUnavailable, exit);
        Assert.Contains("error: gave up after 30 s: the API answered 503", error.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task An_output_folder_that_cannot_be_made_is_an_error_and_not_retried()
    {
        var api = new StubApi(HttpStatusCode.OK);
        var file = Path.Combine(_folder, "a-file");
        await File.WriteAllTextAsync(file, "not a folder");
        var error = new StringWriter();
        var options = new FetchOptions(new Uri("http://api.test/"), "churn", "1", Path.Combine(file, "model"), "a-token", TimeSpan.FromDays(1));

        var exit = await new FetchCommand(options, api, new FakeTimeProvider(), new StringWriter(), error).RunAsync(CancellationToken.None);

        Assert.Equal(ExitCodes.FetchCannotWrite, exit);
        Assert.StartsWith("error: cannot write the model to", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, api.Requests);
    }

    private (FetchCommand Command, FakeTimeProvider Time, string Folder, StringWriter Error) Command(StubApi api, TimeSpan retryFor)
    {
        var options = new FetchOptions(new Uri("http://api.test/"), "churn", "1", _folder, "a-token", retryFor);
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

    /// <summary>Answers each request with the next status (the last one repeats); 200 is the model with its sha256 as ETag.</summary>
    private sealed class StubApi(params HttpStatusCode[] answers) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var status = answers[Math.Min(Interlocked.Increment(ref _requests), answers.Length) - 1];
            var response = new HttpResponseMessage(status);
            if (status == HttpStatusCode.OK)
            {
                response.Content = new ByteArrayContent(Model);
                response.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(Model))}\"");
            }
            else
            {
                response.Content = new StringContent("""{"title":"Unavailable","detail":"starting"}""");
            }
            return Task.FromResult(response);
        }
    }
}
