using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Strata.Testing;

/// <summary>
/// The built server (<c>strata-server.dll</c> beside the tests) as an operator runs it: a real process on one
/// port and one data folder for its whole life, so that it can be killed and started again where clients
/// left it. Disposing it kills the server and every worker and job that names its folder. One file, compiled into
/// the CLI and dashboard tests (tests/Shared); the server tests have a larger sibling of their own.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly IReadOnlyDictionary<string, string> _environment;
    private Process? _process;

    /// <param name="environment">Settings over the defaults (<c>Runtime__Local__CpuCores</c>, ...).</param>
    public ServerProcess(IReadOnlyDictionary<string, string>? environment = null)
    {
        _environment = environment ?? new Dictionary<string, string>();
        Root = Path.Combine(Path.GetTempPath(), "strata-test-proc-" + Guid.NewGuid().ToString("N")[..12]);
        DataPath = Directory.CreateDirectory(Path.Combine(Root, "data")).FullName;
        MarkerPath = Directory.CreateDirectory(Path.Combine(Root, "markers")).FullName;
        // Shown to every job by the sandbox, writable by every tenant's user.
        File.SetUnixFileMode(MarkerPath, (UnixFileMode)Convert.ToInt32("1777", 8));
        Url = new Uri($"http://127.0.0.1:{FreePort()}");
    }

    public string Root { get; }
    public string DataPath { get; }
    /// <summary>A folder every job can read and write (<c>MARKER_DIR</c>): the test releases a job by writing a file there.</summary>
    public string MarkerPath { get; }
    public Uri Url { get; }
    public string LogPath => Path.Combine(Root, "server.log");
    public string AdminToken => File.ReadAllText(Path.Combine(DataPath, "admin-token")).Trim();

    /// <summary>Starts the server (again) on its port and folder, and waits until it is ready.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false }) throw new InvalidOperationException("the server is already running");
        var dll = Path.Combine(AppContext.BaseDirectory, "strata-server.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project must reference Strata.Server");
        // exec: the pid is the server's own; its output goes to a file, not to a pipe its workers would inherit.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Root };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec dotnet \"$0\" --urls \"$1\" >> \"$2\" 2>&1");
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(Url.ToString().TrimEnd('/'));
        start.ArgumentList.Add(LogPath);
        start.Environment["Strata__DataPath"] = DataPath;
        start.Environment["Scheduler__ResyncSeconds"] = "1";
        start.Environment["Runtime__Local__Sandbox__ReadWritePaths__0"] = MarkerPath;
        foreach (var (name, value) in _environment) start.Environment[name] = value;
        start.Environment.Remove("ASPNETCORE_URLS");
        start.Environment.Remove("Strata__PublicUrl");
        _process = Process.Start(start) ?? throw new InvalidOperationException("the server did not start");

        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(5) };
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

    /// <summary>SIGKILL to the server alone: its workers run in their own sessions and live on, and so do their jobs.</summary>
    public void Kill()
    {
        var process = _process ?? throw new InvalidOperationException("the server is not running");
        process.Kill(entireProcessTree: false);
        Assert.True(process.WaitForExit(Patience), "the server did not die of SIGKILL");
        process.Dispose();
        _process = null;
    }

    public string LogTail(int lines = 60)
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
        // Workers are in their own sessions and jobs are their children: they are found by what names this folder.
        for (var round = 0; round < 5; round++)
        {
            var leftovers = ProcessesMentioning(Root);
            if (leftovers.Count == 0) break;
            foreach (var pid in leftovers)
            {
                try
                {
                    using var leftover = Process.GetProcessById(pid);
                    leftover.Kill();
                }
                catch (ArgumentException) { }
                catch (InvalidOperationException) { }
                catch (System.ComponentModel.Win32Exception) { }
            }
            Thread.Sleep(100);
        }

        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Live processes whose command line or environment names <paramref name="text"/>.</summary>
    private static List<int> ProcessesMentioning(string text)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Contains(text, StringComparison.Ordinal)
                    || File.ReadAllText(Path.Combine(entry, "environ")).Contains(text, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }

        return found;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
