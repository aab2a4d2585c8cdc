using System.Diagnostics;
using System.Globalization;

namespace Strata.Worker.Serving.Tests;

/// <summary>A replica started with <c>--parent-pid</c> (as the local runtime starts it) ends when that process dies, however it dies.</summary>
public sealed class ParentDeathTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static string Iris => Path.Combine(AppContext.BaseDirectory, "Onnx", "iris_zipmap.onnx");

    private static string Worker => Path.Combine(AppContext.BaseDirectory, "strata-worker.dll");

    [Fact]
    public async Task A_replica_whose_parent_is_killed_stops_and_says_why()
    {
        var folder = Directory.CreateTempSubdirectory("strata-serving-parent-").FullName;
        var pidFile = Path.Combine(folder, "replica.pid");
        var launcher = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // The shell names itself as the parent and becomes `sleep` (exec keeps its pid), so SIGKILL to it orphans the replica.
        foreach (var argument in (string[])["-c", "\"$@\" --parent-pid $$ > \"$0.out\" 2> \"$0.err\" & echo $! > \"$0\"; exec sleep 300",
            pidFile, "dotnet", Worker, "serve", "--model", Iris, "--port", "0"])
        {
            launcher.ArgumentList.Add(argument);
        }
        using var parent = Process.Start(launcher)!;
        var replica = 0;
        try
        {
            await WaitUntil(() => File.Exists(pidFile + ".out") && File.ReadAllText(pidFile + ".out").Contains("ready:", StringComparison.Ordinal), "the replica is ready");
            replica = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
            Assert.True(IsAlive(replica));

            parent.Kill();
            await parent.WaitForExitAsync();

            await WaitUntil(() => !IsAlive(replica), "the orphaned replica exits");
            Assert.Contains($"the process that started it ({parent.Id}) is gone; stopping", File.ReadAllText(pidFile + ".err"), StringComparison.Ordinal);
        }
        finally
        {
            if (!parent.HasExited) parent.Kill();
            if (replica > 0 && IsAlive(replica))
            {
                using var left = Process.GetProcessById(replica);
                left.Kill();
            }
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_replica_whose_parent_died_before_it_started_exits_with_status_3()
    {
        int gone;
        using (var shortLived = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!)
        {
            await shortLived.WaitForExitAsync();
            gone = shortLived.Id;
        }
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in (string[])[Worker, "serve", "--model", Iris, "--port", "0", "--parent-pid", gone.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(ServeCommand.ParentGone, process.ExitCode);
        Assert.Contains($"the process that started it ({gone}) is gone", await error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-5")]
    public void A_parent_pid_that_is_not_a_process_id_is_a_usage_problem(string value)
    {
        Assert.Null(ServeOptions.Parse(["--model", Iris, "--port", "0", "--parent-pid", value], out var problem));
        Assert.Equal("--parent-pid must be a process id", problem);
    }

    [Fact]
    public void The_parent_pid_is_optional()
    {
        Assert.Null(ServeOptions.Parse(["--model", Iris, "--port", "0"], out _)!.ParentPid);
        Assert.Equal(42, ServeOptions.Parse(["--model", Iris, "--port", "0", "--parent-pid", "42"], out _)!.ParentPid);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {Patience.TotalSeconds} s until {what}.");
            await Task.Delay(100);
        }
    }
}
