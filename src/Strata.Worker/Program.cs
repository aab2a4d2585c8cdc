using System.Runtime.CompilerServices;
using Strata.Core.Runtime.Local;
using Strata.Worker;

// strata-worker run <attempt-dir>: supervises one attempt of a job; see Supervisor.
// strata-worker standby <standby-dir> [...]: prepares in advance, then waits for an attempt; see Standby.
// strata-worker train --model <m> --label <column> [...]: a built-in trainer, run as a job's process.
// strata-worker serve --model <folder|model.zip> --port <n> [...]: a model replica (HTTP predictions).
// strata-worker fetch --url <api> --model <name> --version <v> --out <dir>: downloads a model version's file; see FetchCommand.
if (args is ["fetch", ..])
{
    return await Strata.Worker.Fetch.FetchCommand.RunAsync(args[1..], Console.Out, Console.Error);
}
if (args is ["train", ..])
{
    return Train(args[1..]);
}
if (args is ["serve", ..])
{
    return Serve(args[1..]);
}
var standby = StandbyOptions.Parse(args);
if (standby is null && args is not ["run", _])
{
    Console.Error.WriteLine("usage: strata-worker run <attempt-dir>");
    Console.Error.WriteLine(StandbyOptions.Usage);
    return ExitCodes.Usage;
}

// The parent before anything else: a standby worker exits when it changes (the server is gone). The server
// names itself, so that a worker whose server died before this line ran exits too.
var parentPid = standby?.ParentPid ?? ParentWatch.ParentPid() ?? 0;
// No descriptor the worker was handed passes on to the job (a folder's would lead out of its sandbox by "..").
var inheritedStayOpen = !Native.CloseOnExecAboveStandardStreams();
// From here on nothing reaches a terminal: diagnostics go to worker.log in the attempt (or standby) folder.
var detachProblem = Native.Detach();
if (inheritedStayOpen)
{
    detachProblem = (detachProblem is null ? "" : detachProblem + "; ") + "close_range failed: descriptors the worker inherited may reach the job";
}
var directory = Path.GetFullPath(standby?.Directory ?? args[1]);
try
{
    return standby is null
        ? await new Supervisor(directory, TimeProvider.System).RunAsync(detachProblem)
        : await Standby.RunAsync(standby, detachProblem, parentPid);
}
catch (Exception e)
{
    try { File.AppendAllText(Path.Combine(directory, Strata.Core.Runtime.Local.AttemptFiles.WorkerLog), $"worker failed: {e}\n"); }
    catch (IOException) { }
    return ExitCodes.WorkerFailed;
}

// Its own method, not inlined, like Train: `run` and `standby` never load the model server (or ML.NET, or Kestrel).
[MethodImpl(MethodImplOptions.NoInlining)]
static int Serve(string[] arguments)
{
#if TRAINERS
    return Strata.Worker.Serving.ServeCommand.RunAsync(arguments, Console.Out, Console.Error).GetAwaiter().GetResult();
#else
    _ = arguments;
    Console.Error.WriteLine("strata-worker serve: this strata-worker is a Native AOT build, which has no model server (ML.NET needs the JIT).");
    Console.Error.WriteLine("Serve models with the JIT build (dotnet strata-worker.dll serve ...); the server uses it for deployments.");
    return ExitCodes.Usage;
#endif
}

// Its own method, not inlined: `run` and `standby` never load the trainers' assembly (or ML.NET).
[MethodImpl(MethodImplOptions.NoInlining)]
static int Train(string[] arguments)
{
#if TRAINERS
    return Strata.Worker.Training.TrainCommand.Run(arguments, Strata.Worker.Training.TrainCommand.ProcessEnvironment(), Console.Out, Console.Error);
#else
    _ = arguments;
    Console.Error.WriteLine("strata-worker train: this strata-worker is a Native AOT build, which has no built-in trainers (ML.NET needs the JIT).");
    Console.Error.WriteLine("Run trainers with the JIT build (dotnet strata-worker.dll train ...); the server uses it unless Runtime:WorkerPath says otherwise.");
    return ExitCodes.Usage;
#endif
}

// strata-worker's entry point stays internal: the model server brings ASP.NET Core, whose generator would
// otherwise make it public and clash with the server's own Program in the server's tests. (A plain comment:
// an XML doc here would put a second T:Program into the server's OpenAPI XML comments.)
internal sealed partial class Program;
