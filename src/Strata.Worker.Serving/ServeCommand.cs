using Strata.Core.Runtime.Local;

namespace Strata.Worker.Serving;

/// <summary>
/// <c>strata-worker serve</c>: serves one model version over HTTP until stopped (SIGTERM drains the
/// requests in flight). It prints <c>listening on http://…</c> once it accepts connections and
/// <c>ready</c> once the model is loaded; a model that cannot be loaded ends it with exit status 1.
/// With <c>--parent-pid</c> it also stops, the same way, once that process is no longer its parent.
/// </summary>
public static class ServeCommand
{
    public const int Success = 0;
    /// <summary>The model could not be loaded (the message says why).</summary>
    public const int ModelError = 1;
    public const int Usage = 2;
    /// <summary>The process named by <c>--parent-pid</c> died (or was gone at the start): nobody routes to this replica any more.</summary>
    public const int ParentGone = 3;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var options = ServeOptions.Parse(args, out var problem);
        if (options is null)
        {
            error.WriteLine($"strata-worker serve: {problem}");
            error.WriteLine(ServeOptions.UsageText);
            return Usage;
        }
        // A replica of the local runtime ends with the server that supervises it, even one killed with SIGKILL:
        // a restarted server starts replicas of its own, and this one would serve nobody for ever.
        using var watching = new CancellationTokenSource();
        var parentGone = options.ParentPid is { } parent
            ? ParentWatch.WhenGoneAsync(parent, TimeProvider.System, watching.Token)
            : Task.Delay(Timeout.Infinite, watching.Token);
        try
        {
            await using var server = new ModelServer(options);
            await server.StartAsync();
            output.WriteLine($"strata-worker serve: listening on {server.Address}");
            try
            {
                if (await Task.WhenAny(server.Loaded, parentGone) == parentGone)
                {
                    SayOrphaned(options, error);
                    await server.StopAsync();
                    return ParentGone;
                }
                await server.Loaded;
            }
            catch (ModelLoadException e)
            {
                error.WriteLine($"strata-worker serve: {options.ModelPath}: {e.Message}");
                await server.StopAsync();
                return ModelError;
            }
            output.WriteLine($"strata-worker serve: ready: {options.ModelName} version {options.Version}");
            var shutdown = server.WaitForShutdownAsync();
            if (await Task.WhenAny(shutdown, parentGone) != parentGone) return Success;
            SayOrphaned(options, error);
            server.RequestStop();
            await shutdown;
            return ParentGone;
        }
        finally
        {
            await watching.CancelAsync();
        }
    }

    private static void SayOrphaned(ServeOptions options, TextWriter error) =>
        error.WriteLine($"strata-worker serve: the process that started it ({options.ParentPid}) is gone; stopping");
}
