namespace Strata.Worker;

/// <summary>The worker's own exit codes. Whatever happened to the job is in result.json, not here.</summary>
internal static class ExitCodes
{
    /// <summary>The attempt was supervised and result.json written.</summary>
    public const int Done = 0;
    /// <summary>The command line was not <c>run &lt;attempt-dir&gt;</c>.</summary>
    public const int Usage = 64;
    /// <summary>launch.json is missing or unreadable (result.json says so where the folder exists).</summary>
    public const int NoLaunchFile = 66;
    /// <summary>The worker itself failed; worker.log says why.</summary>
    public const int WorkerFailed = 70;
}
