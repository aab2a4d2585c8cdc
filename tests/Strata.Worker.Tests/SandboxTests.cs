using Strata.Core.Runtime.Local;
using Strata.Worker.Sandbox;

namespace Strata.Worker.Tests;

/// <summary>The worker runs a launch that names a sandbox under bubblewrap, by `run` and by a standby worker.</summary>
public sealed class SandboxTests
{
    private const string Bwrap = "/usr/bin/bwrap";

    private static SandboxBind Bind(string path, bool pinned = false) => new(path, path, pinned);

    private static LaunchFile Sandboxed(TestAttempt attempt, string entrypoint, int? uid = null, string network = SandboxNetworks.Host) =>
        TestAttempt.Launch(entrypoint, new() { ["PATH"] = "/usr/bin:/bin", ["SECRET_TOKEN"] = "tok'en \"with\" $quotes\nand a line", ["LD_PRELOAD"] = "/nonexistent.so" }) with
        {
            Sandbox = new SandboxLaunch { Bwrap = Bwrap, Uid = uid, Gid = uid, Network = network, ReadWrite = [Bind(Path.Combine(attempt.Root, "out"), pinned: true)] },
        };

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_job_sees_its_folders_and_exactly_its_environment_and_nothing_of_its_attempt_folder(bool standby)
    {
        Skip.IfNot(File.Exists(Bwrap), "bubblewrap is not installed");
        using var attempt = new TestAttempt();
        File.WriteAllText(Path.Combine(attempt.Root, "beside"), "not for the job");
        Directory.CreateDirectory(Path.Combine(attempt.Root, "out"));
        var uid = Environment.IsPrivilegedProcess ? 200999 : (int?)null;
        attempt.Write(Sandboxed(attempt, string.Join("; ",
            "env | sort > env.txt",
            $"cat {attempt.Directory}/launch.json {attempt.Root}/beside 2>/dev/null && echo LEAK",
            $"echo written > {attempt.Root}/out/result.txt",
            "touch /usr/x 2>/dev/null && echo LEAK",
            "echo shared > /dev/shm/probe && echo tmp > /tmp/probe && cat /dev/shm/probe /tmp/probe > scratch.txt",
            "id -un > user.txt",
            "id -u > uid.txt",
            "exit 3"), uid));
        if (standby)
        {
            using var worker = new TestStandby(attempt);
            await worker.WaitReady();
            worker.Assign(attempt.Directory);
            await worker.Worker.WaitForExitAsync(new CancellationTokenSource(TestAttempt.Patience).Token);
        }
        else
        {
            await attempt.RunAsync();
        }

        Assert.Equal("exited_with_error", attempt.Result.Reason);
        Assert.Equal(3, attempt.Result.ExitCode);
        Assert.DoesNotContain("LEAK", attempt.Output, StringComparison.Ordinal);
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(attempt.Root, "out", "result.txt")));
        Assert.Equal("shared\ntmp\n", File.ReadAllText(attempt.WorkFile("scratch.txt")));
        Assert.Equal("job\n", File.ReadAllText(attempt.WorkFile("user.txt")));
        // The environment is the launch's, quotes and newlines intact, plus what the shell sets; the loader's
        // variables reached the job (its own business) but no privileged process on the way.
        var env = File.ReadAllText(attempt.WorkFile("env.txt"));
        Assert.Contains("SECRET_TOKEN=tok'en \"with\" $quotes\nand a line\n", env, StringComparison.Ordinal);
        Assert.Equal(["LD_PRELOAD", "PATH", "PWD", "SECRET_TOKEN"], env.Split('\n').Where(l => l.Contains('=')).Select(l => l[..l.IndexOf('=')]).Where(n => n.All(c => char.IsAsciiLetterUpper(c) || c == '_')).Order(StringComparer.Ordinal));
        Assert.Contains("sandbox: bwrap", attempt.WorkerLog, StringComparison.Ordinal);
        if (uid is not null)
        {
            Assert.Equal($"{uid}\n", File.ReadAllText(attempt.WorkFile("uid.txt")));
        }
        // Nothing on a command line holds the environment: bwrap reads it from the attempt folder.
        Assert.DoesNotContain("tok'en", File.ReadAllText(Path.Combine(attempt.Directory, JobSandbox.ArgsFile)), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_job_killed_by_a_signal_inside_the_sandbox_is_reported_with_it()
    {
        Skip.IfNot(File.Exists(Bwrap), "bubblewrap is not installed");
        using var attempt = new TestAttempt();
        attempt.Write(Sandboxed(attempt, "kill -9 $$"));
        await attempt.RunAsync();
        Assert.Equal("exited_with_error", attempt.Result.Reason);
        Assert.Equal(9, attempt.Result.Signal);
    }

    [SkippableFact]
    public async Task Without_a_network_the_job_has_loopback_only()
    {
        Skip.IfNot(File.Exists(Bwrap), "bubblewrap is not installed");
        using var attempt = new TestAttempt();
        attempt.Write(Sandboxed(attempt, "ls /proc/net/dev >/dev/null; grep -c : /proc/net/dev > ifaces.txt", network: SandboxNetworks.None));
        await attempt.RunAsync();
        Assert.Equal("completed", attempt.Result.Reason);
        Assert.Equal("1\n", File.ReadAllText(attempt.WorkFile("ifaces.txt")));
    }

    [Fact]
    public void A_root_worker_keeps_only_setprivs_capabilities_and_puts_the_environment_on_no_command_line()
    {
        var launch = TestAttempt.Launch("python3 train.py", new() { ["TOKEN"] = "secret" }) with
        {
            Sandbox = new SandboxLaunch { Bwrap = Bwrap, Uid = 200001, Gid = 200001, ReadOnly = [Bind("/srv/data/x.csv")], ReadWrite = [Bind("/tmp/strata/checkpoints/j")] },
        };
        var (options, command) = JobSandbox.Arguments(launch, launch.Sandbox!, "/tmp/strata/attempts/t/j-1/work", "/tmp/strata/attempts/t/j-1/sandbox-etc");

        Assert.Equal(["/usr/bin/setpriv", "--reuid", "200001", "--regid", "200001", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"], command.Take(10));
        Assert.DoesNotContain(command, a => a.Contains("secret", StringComparison.Ordinal));
        Assert.DoesNotContain(options, a => a.Contains("secret", StringComparison.Ordinal));
        Assert.Contains("--clearenv", options);
        Assert.DoesNotContain("--unshare-user", options);
        // Parents are made 0755 before what is bound in them, children after their parents.
        var bind = options.IndexOf("/tmp/strata/checkpoints/j");
        var parent = options.IndexOf("/tmp/strata/checkpoints");
        Assert.True(parent >= 0 && parent < bind && options[parent - 1] == "--dir" && options[parent - 2] == "0755");
        Assert.Equal("--ro-bind-try", options[options.IndexOf("/srv/data/x.csv") - 1]);
    }

    [Fact]
    public void An_unprivileged_worker_runs_the_job_in_a_user_namespace_that_cannot_make_another()
    {
        var launch = TestAttempt.Launch("true") with { Sandbox = new SandboxLaunch { Bwrap = Bwrap, Network = SandboxNetworks.None } };
        var (options, command) = JobSandbox.Arguments(launch, launch.Sandbox!, "/tmp/w", "/tmp/etc");
        Assert.Contains("--unshare-user", options);
        Assert.Contains("--disable-userns", options);
        Assert.Contains("--unshare-net", options);
        Assert.Equal("/bin/sh", command[0]);
    }

    /// <summary>A GPU attempt's /dev shows its own device's node and the driver's shared ones, after the private /dev is made.</summary>
    [Fact]
    public void The_attempts_own_gpu_nodes_are_bound_into_its_private_dev_and_no_other()
    {
        var launch = TestAttempt.Launch("true") with
        {
            Sandbox = new SandboxLaunch { Bwrap = Bwrap, Devices = ["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"] },
        };
        var (options, _) = JobSandbox.Arguments(launch, launch.Sandbox!, "/tmp/w", "/tmp/etc");
        var dev = options.IndexOf("--dev");
        foreach (var node in (string[])["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"])
        {
            var at = options.IndexOf(node);
            Assert.True(at > dev && options[at - 1] == "--dev-bind-try" && options[at + 1] == node, string.Join(' ', options));
        }
        Assert.DoesNotContain("/dev/nvidia0", options);
        var plain = TestAttempt.Launch("true") with { Sandbox = new SandboxLaunch { Bwrap = Bwrap } };
        Assert.DoesNotContain("--dev-bind-try", JobSandbox.Arguments(plain, plain.Sandbox!, "/tmp/w", "/tmp/etc").Options);
    }
}
