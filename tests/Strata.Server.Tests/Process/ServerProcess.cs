using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Strata.Server.Tests.Process;

/// <summary>
/// The built server (<c>strata-server.dll</c> beside the tests) run as an operator runs it: a real OS
/// process on a free port with its own data folder. It can be killed with SIGKILL and started again on
/// the same folder. <see cref="Dispose"/> kills every process it left behind, workers and jobs included.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, string> _environment;
    private readonly (int Uid, int Gid)? _runAs;
    private System.Diagnostics.Process? _process;
    private int _starts;

    /// <param name="runAs">A system user (uid, gid) to run the server as, instead of the test's own user (which must be root then).</param>
    public ServerProcess(IReadOnlyDictionary<string, string>? environment = null, (int Uid, int Gid)? runAs = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "strata-proc-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        _runAs = runAs;
        DataPath = Path.Combine(Root, "data");
        MarkerPath = Directory.CreateDirectory(Path.Combine(Root, "markers")).FullName;
        // Shown to every job by the sandbox, writable by every tenant's user.
        File.SetUnixFileMode(MarkerPath, (UnixFileMode)Convert.ToInt32("1777", 8));
        _environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Strata__DataPath"] = DataPath,
            ["Scheduler__ResyncSeconds"] = "1",
            ["Runtime__Local__StopGraceSeconds"] = "2",
            ["Runtime__Local__Sandbox__ReadWritePaths__0"] = MarkerPath,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) _environment[name] = value;
        if (runAs is { } user)
        {
            _environment["HOME"] = Root;
            _environment["DOTNET_CLI_HOME"] = Root;
            foreach (var entry in Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories).Prepend(Root))
            {
                ProcFs.ChangeOwner(entry, user.Uid, user.Gid);
            }
        }
    }

    /// <summary>Everything of this server lives under here; processes naming it are its own.</summary>
    public string Root { get; }
    public string DataPath { get; }
    /// <summary>A folder jobs append lines to (passed as <c>MARKER_DIR</c>), to count how often they ran; the sandbox shows it to every job.</summary>
    public string MarkerPath { get; }
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1:1");
    public int Pid => _process?.Id ?? 0;
    public string LogPath => Path.Combine(Root, "server.log");

    /// <summary>Starts the server (again) and waits until it is ready.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false }) throw new InvalidOperationException("the server is already running");
        var port = FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        var dll = Path.Combine(ServerDirectory(), "strata-server.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project must reference Strata.Server");
        // exec: the pid is the server's own, and its output goes to a file rather than a pipe the
        // workers would inherit (and keep open after a SIGKILL).
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Root };
        start.ArgumentList.Add("-c");
        var asUser = _runAs is { } user ? $"/usr/bin/setpriv --reuid={user.Uid} --regid={user.Gid} --clear-groups " : "";
        start.ArgumentList.Add($"echo \"--- start $3\" >> \"$2\"; exec {asUser}dotnet \"$0\" --urls \"$1\" >> \"$2\" 2>&1");
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(BaseAddress.ToString().TrimEnd('/'));
        start.ArgumentList.Add(LogPath);
        start.ArgumentList.Add((++_starts).ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (name, value) in _environment) start.Environment[name] = value;
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("Strata__PublicUrl");
        _process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("the server did not start");

        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the server exited with {_process.ExitCode}:\n{LogTail()}");
            try
            {
                using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the server was not ready within {Patience}:\n{LogTail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL to the server alone: workers run in their own sessions and live on.</summary>
    public void KillServer()
    {
        var process = _process ?? throw new InvalidOperationException("the server is not running");
        process.Kill(entireProcessTree: false);
        Assert.True(process.WaitForExit(Patience), "the server did not die of SIGKILL");
        process.Dispose();
        _process = null;
    }

    /// <summary>SIGTERM to the server, as an operator's graceful stop, and waits until it has exited.</summary>
    public void StopServer()
    {
        var process = _process ?? throw new InvalidOperationException("the server is not running");
        Assert.True(ProcFs.Signal(process.Id, 15), "the server is there to be stopped");
        Assert.True(process.WaitForExit(Patience), $"the server did not exit after SIGTERM:\n{LogTail()}");
        process.Dispose();
        _process = null;
    }

    /// <summary>
    /// The live <c>strata-worker</c> processes of this server running <paramref name="command"/> (<c>serve</c>,
    /// <c>standby</c>, <c>run</c>): those whose command line, environment or working folder names its folder.
    /// </summary>
    public List<int> Workers(string command) =>
        [.. ProcFs.ProcessesMentioning(Root).Where(pid => ProcFs.IsWorker(pid, command))];

    public string AdminToken => File.ReadAllText(Path.Combine(DataPath, "admin-token")).Trim();

    /// <summary>A client of the API as a tenant's member, the tenant created by the admin.</summary>
    public async Task<ApiClient> CreateTenantAsync(string tenant)
    {
        var admin = new ApiClient(this, AdminToken);
        using (var created = await admin.SendAsync(HttpMethod.Post, "/v1/tenants", $$"""{"id":"{{tenant}}"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using var issued = await admin.SendAsync(HttpMethod.Post, $"/v1/tenants/{tenant}/tokens", """{"role":"member"}""");
        Assert.Equal(HttpStatusCode.Created, issued.StatusCode);
        var token = JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        admin.Dispose();
        return new ApiClient(this, token) { Tenant = tenant };
    }

    public string AttemptFolder(string tenant, string jobId, int attempt) => Path.Combine(DataPath, "attempts", tenant, $"{jobId}-{attempt}");

    /// <summary>worker_pid and job_pid from an attempt's supervisor.json, once the worker has written it.</summary>
    public async Task<(int WorkerPid, int JobPid)> SupervisorAsync(string tenant, string jobId, int attempt)
    {
        var path = Path.Combine(AttemptFolder(tenant, jobId, attempt), "supervisor.json");
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(path)), $"{path} to exist", this);
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return (document.RootElement.GetProperty("worker_pid").GetInt32(), document.RootElement.GetProperty("job_pid").GetInt32());
    }

    /// <summary>The lines a job appended to <c>$MARKER_DIR/name</c>.</summary>
    public string[] MarkerLines(string name)
    {
        var path = Path.Combine(MarkerPath, name);
        return File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Length > 0).ToArray() : [];
    }

    public string LogTail(int lines = 80)
    {
        try
        {
            var all = File.ReadAllLines(LogPath);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException e)
        {
            return $"(no server log: {e.Message})";
        }
    }

    public void Dispose()
    {
        try
        {
            if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        _process?.Dispose();
        // Workers are in their own sessions and jobs are their children: find them by what names this folder.
        for (var round = 0; round < 5; round++)
        {
            var leftovers = ProcFs.ProcessesMentioning(Root);
            if (leftovers.Count == 0) break;
            foreach (var pid in leftovers) ProcFs.Kill(pid);
            Thread.Sleep(100);
        }
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The built server beside the tests, or, when the server runs as another user who cannot read it there
    /// (a checkout under /root), a copy of it that user can read.
    /// </summary>
    private string ServerDirectory()
    {
        if (_runAs is not { } user || RunsAs(user, "/usr/bin/test", "-r", Path.Combine(AppContext.BaseDirectory, "strata-server.dll"))) return AppContext.BaseDirectory;
        var copy = Path.Combine(Root, "server");
        if (!Directory.Exists(copy))
        {
            Assert.True(RunsAs((0, 0), "/bin/cp", "-a", AppContext.BaseDirectory.TrimEnd('/'), copy), "copying the server");
            Assert.True(RunsAs((0, 0), "/bin/chmod", "-R", "a+rX", copy), "making the copy readable");
        }
        return copy;
    }

    private static bool RunsAs((int Uid, int Gid) user, string program, params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/bin/setpriv") { UseShellExecute = false };
        foreach (var argument in new[] { $"--reuid={user.Uid}", $"--regid={user.Gid}", "--clear-groups", program }.Concat(arguments)) start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Raw HTTP with the JSON API, as a tenant's token holder.</summary>
internal sealed class ApiClient(ServerProcess server, string token) : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Tenant { get; init; } = "";

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(server.BaseAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        return await _http.SendAsync(request);
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await SendAsync(HttpMethod.Get, path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Submits a training job and returns the 201's body.</summary>
    public async Task<JsonElement> SubmitAsync(string json)
    {
        using var response = await SendAsync(HttpMethod.Post, "/v1/jobs/training", json);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"submit: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public Task<JsonElement> JobAsync(string id) => GetJsonAsync($"/v1/jobs/training/{id}");

    public Task<JsonElement> AttemptsAsync(string id) => GetJsonAsync($"/v1/jobs/training/{id}/attempts");

    public Task<JsonElement> ListAsync() => GetJsonAsync("/v1/jobs/training?limit=100");

    /// <summary>Waits until the job's status is <paramref name="status"/> and returns it then.</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, string status)
    {
        JsonElement job = default;
        await Wait.UntilAsync(async () =>
        {
            job = await JobAsync(id);
            return job.GetProperty("status").GetString() == status;
        }, () => $"job {id} to be {status}; it is {(job.ValueKind == JsonValueKind.Undefined ? "unknown" : job.ToString())}", server);
        return job;
    }

    public void Dispose() => _http.Dispose();
}

internal static class Wait
{
    public static Task UntilAsync(Func<Task<bool>> condition, string what, ServerProcess? server = null) =>
        UntilAsync(condition, () => what, server);

    /// <summary>Polls <paramref name="condition"/> every 200 ms for up to a minute: a condition, never a timed assertion.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, Func<string> what, ServerProcess? server = null)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited {ServerProcess.Patience.TotalSeconds} s for {what()}.\n{server?.LogTail()}");
            }
            await Task.Delay(200);
        }
    }
}

/// <summary>What /proc says about processes.</summary>
internal static partial class ProcFs
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, int uid, int gid);

    public static void ChangeOwner(string path, int uid, int gid) =>
        Assert.True(LChown(path, uid, gid) == 0, $"lchown {path}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Processes whose command line, environment or working folder names <paramref name="text"/>.</summary>
    public static List<int> ProcessesMentioning(string text)
    {
        var self = Environment.ProcessId;
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == self || !IsAlive(pid)) continue;
            if (Mentions(entry, text)) found.Add(pid);
        }
        return found;
    }

    private static bool Mentions(string entry, string text)
    {
        try
        {
            if (File.ReadAllText(Path.Combine(entry, "cmdline")).Contains(text, StringComparison.Ordinal)) return true;
            if (File.ReadAllText(Path.Combine(entry, "environ")).Contains(text, StringComparison.Ordinal)) return true;
            var cwd = new DirectoryInfo(Path.Combine(entry, "cwd")).LinkTarget;
            return cwd is not null && cwd.StartsWith(text, StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>The command line of <paramref name="pid"/>, one argument each; empty when it is gone.</summary>
    public static string[] Arguments(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries); }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>Whether <paramref name="pid"/> is <c>strata-worker</c> (its own binary, or <c>dotnet strata-worker.dll</c>) running <paramref name="command"/>.</summary>
    public static bool IsWorker(int pid, string command)
    {
        var args = Arguments(pid);
        var worker = Array.FindIndex(args, a => a.EndsWith("/strata-worker", StringComparison.Ordinal) || a.EndsWith("/strata-worker.dll", StringComparison.Ordinal));
        return worker >= 0 && worker + 1 < args.Length && args[worker + 1] == command;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillSignal(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; false when there is no such process.</summary>
    public static bool Signal(int pid, int signal) => KillSignal(pid, signal) == 0;

    public static void Kill(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException) { }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }
}
