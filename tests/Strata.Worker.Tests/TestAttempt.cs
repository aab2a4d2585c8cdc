using System.Diagnostics;
using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Tests;

/// <summary>A temporary attempt folder with a launch.json, and the real worker run against it.</summary>
internal sealed class TestAttempt : IDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _root;

    public TestAttempt()
    {
        _root = Path.Combine(Path.GetTempPath(), "strata-worker-tests", Guid.NewGuid().ToString("N"));
        Directory = Path.Combine(_root, "attempt");
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>The attempt folder.</summary>
    public string Directory { get; }

    /// <summary>A scratch folder beside the attempt folder.</summary>
    public string Root => _root;

    public string WorkDirectory => Path.Combine(Directory, AttemptFiles.WorkDirectory);

    public Process? Worker { get; private set; }

    public static LaunchFile Launch(string entrypoint, Dictionary<string, string>? environment = null) => new()
    {
        AttemptName = "test-" + Guid.NewGuid().ToString("N")[..12],
        Entrypoint = entrypoint,
        Environment = environment ?? new() { ["PATH"] = "/usr/local/bin:/usr/bin:/bin" },
        CpuCores = 2,
        MemoryBytes = 1L << 30,
        StopGraceSeconds = 2,
        EnforceLimits = true,
    };

    public TestAttempt Write(LaunchFile launch)
    {
        AttemptFiles.WriteAtomically(Path.Combine(Directory, AttemptFiles.Launch), launch, AttemptFilesJsonContext.Default.LaunchFile);
        return this;
    }

    /// <summary>The command line that runs the built worker: its apphost, else <c>dotnet strata-worker.dll</c>.</summary>
    public static (string FileName, string[] Arguments) WorkerCommand()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "strata-worker");
        return File.Exists(apphost)
            ? (apphost, [])
            : ("dotnet", [Path.Combine(AppContext.BaseDirectory, "strata-worker.dll")]);
    }

    public Process Start()
    {
        var (fileName, arguments) = WorkerCommand();
        var start = new ProcessStartInfo(fileName) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add("run");
        start.ArgumentList.Add(Directory);
        Worker = Process.Start(start)!;
        return Worker;
    }

    /// <summary>Runs the worker to its end and returns its exit code.</summary>
    public async Task<int> RunAsync()
    {
        var worker = Start();
        using var timeout = new CancellationTokenSource(Patience);
        await worker.WaitForExitAsync(timeout.Token);
        return worker.ExitCode;
    }

    public ResultFile Result =>
        AttemptFiles.Read(Path.Combine(Directory, AttemptFiles.Result), AttemptFilesJsonContext.Default.ResultFile)
        ?? throw new InvalidOperationException("no result.json; worker.log says: " + WorkerLog);

    public SupervisorFile? Supervisor =>
        AttemptFiles.Read(Path.Combine(Directory, AttemptFiles.Supervisor), AttemptFilesJsonContext.Default.SupervisorFile);

    public string Output => ReadOrEmpty(Path.Combine(Directory, AttemptFiles.Log));

    public string WorkerLog => ReadOrEmpty(Path.Combine(Directory, AttemptFiles.WorkerLog));

    public string WorkFile(string name) => Path.Combine(WorkDirectory, name);

    private static string ReadOrEmpty(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    /// <summary>Pids written one a line to a file in the work folder.</summary>
    public int[] PidsIn(string name) =>
        ReadOrEmpty(WorkFile(name)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => int.Parse(l.Trim(), CultureInfo.InvariantCulture)).ToArray();

    public static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"gave up waiting until {what}");
            }
            await Task.Delay(25);
        }
    }

    /// <summary>Whether <paramref name="pid"/> is a live process (a zombie counts as gone).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    public static int SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[3], CultureInfo.InvariantCulture);
    }

    public static void Signal(int pid, int signal) => Native.Signal(pid, signal);

    public void Dispose()
    {
        try
        {
            // SIGTERM, so that a worker left running by a failed test still stops its job's processes.
            if (Worker is { HasExited: false })
            {
                Native.Signal(Worker.Id, Native.SIGTERM);
                if (!Worker.WaitForExit(TimeSpan.FromSeconds(15)))
                {
                    Worker.Kill();
                }
            }
            Worker?.Dispose();
        }
        catch (InvalidOperationException) { }
        try { System.IO.Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
