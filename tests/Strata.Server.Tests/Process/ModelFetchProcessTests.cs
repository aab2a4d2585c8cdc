using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Process;

/// <summary>
/// Issue 20, item 1: <c>strata-worker fetch</c>, run as a process the way a deployment's init container runs it,
/// against the server on real Kestrel, with a model-fetch token the server issued: the version's file and its
/// input schema. Deadlines are generous and only a hang reaches them; nothing is timed.
/// </summary>
public sealed class ModelFetchProcessTests(KestrelApp app) : IClassFixture<KestrelApp>
{
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    private Uri Api
    {
        get
        {
            using var client = app.AnonymousClient();
            return client.BaseAddress!;
        }
    }

    /// <summary>A folder for fetch's output (a pod's emptyDir), removed with the app.</summary>
    private string OutFolder() => Directory.CreateDirectory(Path.Combine(app.SharedPath, "fetch-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public async Task Fetch_downloads_the_versions_file_with_its_sha256_and_a_second_run_changes_nothing()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-proc");
        using var _ = member;
        var content = TestModels.ModelBytes(new string('m', 300_000));
        await TestModels.RegisterAsync(app, member, tenant, "churn", content);
        var tokenFile = Path.Combine(OutFolder(), "token");
        await File.WriteAllTextAsync(tokenFile, await TestModels.FetchTokenAsync(app, tenant, "churn") + "\n");
        var folder = OutFolder();
        string[] args = ["--url", Api.ToString(), "--model", "churn", "--version", "latest", "--out", folder, "--token-file", tokenFile];

        var first = await FetchAsync(args);

        Assert.True(first.ExitCode == 0, first.ToString());
        var model = Path.Combine(folder, "model.zip");
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(model))));
        Assert.Equal([model], Directory.GetFiles(folder));
        var written = File.GetLastWriteTimeUtc(model);

        var second = await FetchAsync(args);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("is already the file", second.Output, StringComparison.Ordinal);
        Assert.Equal(written, File.GetLastWriteTimeUtc(model));
    }

    [Fact]
    public async Task Fetch_of_another_model_than_the_tokens_exits_non_zero_with_one_error_line()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-wrong");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("churn"));
        await TestModels.RegisterAsync(app, member, tenant, "other", TestModels.ModelBytes("other"));
        var folder = OutFolder();

        var result = await FetchAsync(["--url", Api.ToString(), "--model", "other", "--version", "1", "--out", folder],
            token: await TestModels.FetchTokenAsync(app, tenant, "churn"));

        Assert.Equal(77, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: the API answered 403", line, StringComparison.Ordinal);
        Assert.Contains("'churn'", line, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task Fetch_retries_while_nothing_listens_and_succeeds_once_the_api_is_up()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-late");
        using var _ = member;
        var content = TestModels.ModelBytes("late");
        await TestModels.RegisterAsync(app, member, tenant, "churn", content, Schema("late"));
        var port = FreePort();
        var folder = OutFolder();
        var retried = new TaskCompletionSource();

        var fetch = FetchAsync(["--url", $"http://127.0.0.1:{port}/", "--model", "churn", "--version", "1", "--out", folder],
            token: await TestModels.FetchTokenAsync(app, tenant, "churn"),
            onError: line => { if (line.Contains("retrying", StringComparison.Ordinal)) retried.TrySetResult(); });
        // Nothing listens on the port until fetch has been refused at least once; then the API "starts" there.
        await retried.Task.WaitAsync(Hang);
        await using var api = TcpForwarder.Start(port, Api);
        var result = await fetch;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(folder, "model.zip")));
        Assert.Equal("late", ReadSchema(folder).Columns.Single().Name);
    }

    [Fact]
    public async Task Fetch_writes_the_versions_input_schema_beside_its_file_and_removes_it_for_a_version_without_one()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-schema");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("with a schema"), Schema("income"));
        var without = TestModels.ModelBytes("without a schema");
        await TestModels.RegisterAsync(app, member, tenant, "churn", without);
        using (var put = await member.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 1 }))
        {
            await Http.ExpectAsync(put, 200);
        }
        var token = await TestModels.FetchTokenAsync(app, tenant, "churn");
        var folder = OutFolder();

        var first = await FetchAsync(["--url", Api.ToString(), "--model", "churn", "--version", "production", "--out", folder], token);

        Assert.True(first.ExitCode == 0, first.ToString());
        using (var version = await member.GetAsync("/v1/models/churn/versions/1"))
        {
            var given = (await Http.ExpectAsync(version, 200)).GetProperty("input_schema");
            var written = await File.ReadAllTextAsync(Path.Combine(folder, "schema.json"));
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(given.GetRawText()), JsonNode.Parse(written)), written);
            Assert.DoesNotContain('\n', written);
        }
        // As serve reads it (ModelServer): the schema of an ML.NET model.
        Assert.Equal("income", ReadSchema(folder).Columns.Single().Name);

        var second = await FetchAsync(["--url", Api.ToString(), "--model", "churn", "--version", "latest", "--out", folder], token);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal([Path.Combine(folder, "model.zip")], Directory.GetFiles(folder));
        Assert.Equal(without, await File.ReadAllBytesAsync(Path.Combine(folder, "model.zip")));
    }

    [Fact]
    public async Task Fetch_with_an_expired_token_or_of_a_version_that_does_not_exist_exits_77_without_retrying()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-refused");
        using var _ = member;
        await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("refused"), Schema("refused"));
        var cases = new[]
        {
            (Version: "1", Token: await TestModels.FetchTokenAsync(app, tenant, "churn", TimeSpan.FromMinutes(-5)), Status: 401),
            (Version: "9", Token: await TestModels.FetchTokenAsync(app, tenant, "churn"), Status: 404),
        };
        foreach (var (version, token, status) in cases)
        {
            var folder = OutFolder();

            var result = await FetchAsync(["--url", Api.ToString(), "--model", "churn", "--version", version, "--out", folder], token);

            Assert.True(result.ExitCode == 77, result.ToString());
            var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: the API answered {status}", line, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(folder));
        }
    }

    [Fact]
    public async Task A_download_whose_sha256_is_not_the_apis_is_refused_and_leaves_no_file()
    {
        var (tenant, member) = await app.TenantClientAsync("fetch-corrupt");
        using var _ = member;
        var version = await TestModels.RegisterAsync(app, member, tenant, "churn", TestModels.ModelBytes("intact"));
        // The registry's copy rots on the server's disk: the API still gives the sha256 it registered.
        var stored = version.GetProperty("uri").GetString()!;
        File.SetUnixFileMode(stored, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllBytesAsync(stored, TestModels.ModelBytes("rotten"));
        var folder = OutFolder();

        var result = await FetchAsync(["--url", Api.ToString(), "--model", "churn", "--version", "1", "--out", folder],
            token: await TestModels.FetchTokenAsync(app, tenant, "churn"));

        Assert.Equal(65, result.ExitCode);
        Assert.StartsWith("error: sha256 mismatch", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    /// <summary>An input schema of one numeric column, as a built-in trainer writes one.</summary>
    private static JsonElement Schema(string column) =>
        JsonDocument.Parse($$"""{"task":"regression","columns":[{"name":"{{column}}","type":"numeric","has_missing":false}]}""").RootElement;

    private static ModelInputSchema ReadSchema(string folder) =>
        JsonSerializer.Deserialize<ModelInputSchema>(File.ReadAllText(Path.Combine(folder, "schema.json")), StrataJson.Options)!;

    private sealed record FetchResult(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout: {Output}\nstderr: {Error}";
    }

    /// <summary>Runs <c>strata-worker fetch</c> (the one built beside the server) to its end.</summary>
    private static async Task<FetchResult> FetchAsync(string[] args, string? token = null, Action<string>? onError = null)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "worker");
        var apphost = Path.Combine(folder, "strata-worker");
        var start = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(folder, "strata-worker.dll") } };
        start.ArgumentList.Add("fetch");
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment["STRATA_FETCH_TOKEN"] = token;
        using var process = new System.Diagnostics.Process { StartInfo = start };
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (error) error.AppendLine(e.Data);
            onError?.Invoke(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Hang);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        process.WaitForExit();
        return new FetchResult(process.ExitCode, output.ToString(), error.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Listens on a loopback port and passes every connection on to the API: the API "coming up" on that port.</summary>
    private sealed class TcpForwarder : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        private TcpForwarder(int port, Uri target)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            _accepting = AcceptAsync(target);
        }

        public static TcpForwarder Start(int port, Uri target) => new(port, target);

        private async Task AcceptAsync(Uri target)
        {
            var connections = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    connections.Add(ForwardAsync(client, target));
                }
            }
            catch (OperationCanceledException)
            {
                // Disposed: the connections end with their sockets.
            }
            await Task.WhenAll(connections);
        }

        private async Task ForwardAsync(TcpClient client, Uri target)
        {
            using var _ = client;
            using var server = new TcpClient();
            try
            {
                await server.ConnectAsync(target.Host, target.Port, _stop.Token);
                await using var fromClient = client.GetStream();
                await using var toServer = server.GetStream();
                await Task.WhenAny(fromClient.CopyToAsync(toServer, _stop.Token), toServer.CopyToAsync(fromClient, _stop.Token));
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // A connection that ends either way ends here.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
