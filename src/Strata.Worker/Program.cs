using Strata.Worker;

// strata-worker run <attempt-dir>: supervises one attempt of a job; see Supervisor.
if (args is not ["run", var attemptDirectory])
{
    Console.Error.WriteLine("usage: strata-worker run <attempt-dir>");
    return ExitCodes.Usage;
}

// From here on nothing reaches a terminal: diagnostics go to worker.log in the attempt folder.
var detachProblem = Native.Detach();
var directory = Path.GetFullPath(attemptDirectory);
try
{
    return await new Supervisor(directory, TimeProvider.System).RunAsync(detachProblem);
}
catch (Exception e)
{
    try { File.AppendAllText(Path.Combine(directory, Strata.Core.Runtime.Local.AttemptFiles.WorkerLog), $"worker failed: {e}\n"); }
    catch (IOException) { }
    return ExitCodes.WorkerFailed;
}
