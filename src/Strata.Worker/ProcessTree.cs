using System.Globalization;
using Strata.Worker.Cgroups;

namespace Strata.Worker;

/// <summary>
/// Finds and stops every process of the attempt: whatever is in its cgroup(s), whatever shares the
/// worker's session (the job inherits it), and every descendant of the worker (the worker is a
/// child subreaper, so double-forked orphans stay below it). Never the worker itself.
/// </summary>
internal sealed class ProcessTree(IAttemptCgroup cgroup, int workerPid, int? sessionId, TimeProvider time)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly record struct ProcStat(char State, int ParentPid, int SessionId);

    /// <summary>The job's main process: .NET reaps it, so the tree must leave its zombie alone.</summary>
    public int JobPid { get; set; }

    /// <summary>The attempt's live processes (zombies left out; adopted ones are reaped on the way).</summary>
    public IReadOnlyList<int> Alive()
    {
        var all = ReadAll();
        var found = new HashSet<int>(cgroup.Pids());
        if (sessionId is { } sid)
        {
            found.UnionWith(all.Where(p => p.Value.SessionId == sid).Select(p => p.Key));
        }
        var children = all.ToLookup(p => p.Value.ParentPid, p => p.Key);
        var visited = new HashSet<int> { workerPid };
        var queue = new Queue<int>([workerPid]);
        while (queue.TryDequeue(out var parent))
        {
            foreach (var child in children[parent].Where(visited.Add))
            {
                found.Add(child);
                queue.Enqueue(child);
            }
        }
        found.Remove(workerPid);

        var alive = new List<int>();
        foreach (var pid in found)
        {
            var stat = all.TryGetValue(pid, out var s) ? s : Read(pid);
            if (stat is null)
            {
                continue;
            }
            if (stat.Value.State is 'Z' or 'X')
            {
                if (stat.Value.ParentPid == workerPid && pid != JobPid)
                {
                    Native.Reap(pid);
                }
                continue;
            }
            alive.Add(pid);
        }
        return alive;
    }

    /// <summary>
    /// SIGTERM to every process of the attempt, up to <paramref name="grace"/> for them to go (returning
    /// early when they have), then SIGKILL to whatever remains, again until none is left.
    /// </summary>
    /// <returns>How many processes were signalled.</returns>
    public async Task<int> StopAsync(TimeSpan grace)
    {
        var terminated = new HashSet<int>();
        var deadline = time.GetUtcNow() + grace;
        while (true)
        {
            var alive = Alive();
            if (alive.Count == 0)
            {
                return terminated.Count;
            }
            if (time.GetUtcNow() >= deadline)
            {
                break;
            }
            // Processes forked during the grace period get their SIGTERM too.
            foreach (var pid in alive.Where(terminated.Add))
            {
                Native.Signal(pid, Native.SIGTERM);
            }
            await Task.Delay(PollInterval, time);
        }

        for (var round = 0; round < 200; round++)
        {
            cgroup.KillAll();
            var alive = Alive();
            if (alive.Count == 0)
            {
                break;
            }
            foreach (var pid in alive)
            {
                terminated.Add(pid);
                Native.Signal(pid, Native.SIGKILL);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10), time);
        }
        return terminated.Count;
    }

    private static Dictionary<int, ProcStat> ReadAll()
    {
        var result = new Dictionary<int, ProcStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } stat)
            {
                result[pid] = stat;
            }
        }
        return result;
    }

    /// <summary>State, parent and session from /proc/&lt;pid&gt;/stat; null when the process is gone.</summary>
    private static ProcStat? Read(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }
        var fields = text[(close + 2)..].Split(' ');
        if (fields.Length < 4
            || !int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var parent)
            || !int.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var session))
        {
            return null;
        }
        return new ProcStat(fields[0][0], parent, session);
    }
}
