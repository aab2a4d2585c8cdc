namespace Strata.Worker;

/// <summary>The worker's own exit codes. Whatever happened to the job is in result.json, not here; <c>fetch</c>'s outcome is.</summary>
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
    /// <summary>
    /// <c>fetch</c>: the download's sha256 is not the one the API gives (no file was kept), or the API's answer cannot be
    /// checked or read (a file without its sha256, a version that is not a model version's JSON).
    /// </summary>
    public const int FetchCorrupt = 65;
    /// <summary><c>fetch</c>: the API could not be reached (or answered 5xx) for the whole retry time.</summary>
    public const int FetchUnavailable = 69;
    /// <summary><c>fetch</c>: the output folder cannot be written (read-only, full).</summary>
    public const int FetchCannotWrite = 73;
    /// <summary><c>fetch</c>: the API refused (401 expired or revoked token, 403 another model's token, 404 no such model or version); not retried.</summary>
    public const int FetchRefused = 77;
}
