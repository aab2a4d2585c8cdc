namespace Strata.Worker.Serving;

/// <summary>
/// <c>strata-worker serve</c>: serves one model version over HTTP until stopped (SIGTERM drains the
/// requests in flight). It prints <c>listening on http://…</c> once it accepts connections and
/// <c>ready</c> once the model is loaded; a model that cannot be loaded ends it with exit status 1.
/// </summary>
public static class ServeCommand
{
    public const int Success = 0;
    /// <summary>The model could not be loaded (the message says why).</summary>
    public const int ModelError = 1;
    public const int Usage = 2;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var options = ServeOptions.Parse(args, out var problem);
        if (options is null)
        {
            error.WriteLine($"strata-worker serve: {problem}");
            error.WriteLine(ServeOptions.UsageText);
            return Usage;
        }
        await using var server = new ModelServer(options);
        await server.StartAsync();
        output.WriteLine($"strata-worker serve: listening on {server.Address}");
        try
        {
            await server.Loaded;
        }
        catch (ModelLoadException e)
        {
            error.WriteLine($"strata-worker serve: {options.ModelPath}: {e.Message}");
            await server.StopAsync();
            return ModelError;
        }
        output.WriteLine($"strata-worker serve: ready: {options.ModelName} version {options.Version}");
        await server.WaitForShutdownAsync();
        return Success;
    }
}
