using System.Globalization;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Serving;

/// <summary>The command line of <c>strata-worker serve</c>.</summary>
public sealed record ServeOptions
{
    public const string DefaultHost = "127.0.0.1";
    public const string DefaultModelName = "model";
    public const string DefaultVersion = "unversioned";

    public const string UsageText =
        "usage: strata-worker serve --model <folder|model.zip|model.onnx> --port <n> [--host 127.0.0.1] [--socket <path>] [--schema <schema.json>]\n" +
        "                           [--model-name <name>] [--version <version>] [--parent-pid <pid>]\n" +
        "       a folder holds model.zip (and optionally schema.json) or model.onnx; --port 0 takes a free port (printed on start);\n" +
        "       --socket also listens on that Unix domain socket (same routes), for a router on the same machine;\n" +
        "       with --parent-pid the replica stops once that process is no longer its parent (it died).";

    /// <summary>The model file: an ML.NET <c>model.zip</c>, or an ONNX model when it ends in <c>.onnx</c>.</summary>
    public required string ModelPath { get; init; }
    /// <summary>Whether the model is an ONNX model (its file ends in <c>.onnx</c>) rather than an ML.NET one.</summary>
    public bool IsOnnx => ModelPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);
    /// <summary>
    /// The input schema (<c>schema.json</c> beside the model unless given); null when there is none. Only
    /// an ML.NET model reads it: an ONNX model's inputs are described by the model itself.
    /// </summary>
    public string? SchemaPath { get; init; }
    public required int Port { get; init; }
    /// <summary>The address to listen on: loopback by default, so that only the platform's router reaches a replica.</summary>
    public string Host { get; init; } = DefaultHost;
    /// <summary>
    /// A Unix domain socket to listen on besides the TCP port, with the same routes; null for none. The local
    /// runtime's router sends predictions there: a hop over a socket file costs less than one over loopback
    /// TCP. The TCP port stays for what needs an address: health checks, Prometheus' scrapes.
    /// </summary>
    public string? Socket { get; init; }
    public string ModelName { get; init; } = DefaultModelName;
    public string Version { get; init; } = DefaultVersion;
    /// <summary>
    /// The process that supervises the replica (<see cref="ParentWatch.Option"/>; the local runtime's server): the
    /// replica stops once that is no longer its parent. Null (run by hand, or in a pod): it runs until stopped.
    /// </summary>
    public int? ParentPid { get; init; }

    public static ServeOptions? Parse(IReadOnlyList<string> args, out string? problem)
    {
        problem = null;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is not ("--model" or "--port" or "--host" or ReplicaSocket.Option or "--schema" or "--model-name" or "--version" or ParentWatch.Option))
            {
                problem = $"unknown argument '{args[i]}'";
                return null;
            }
            if (i + 1 >= args.Count)
            {
                problem = $"{args[i]} needs a value";
                return null;
            }
            values[args[i]] = args[++i];
        }
        if (!values.TryGetValue("--model", out var model))
        {
            problem = "--model is required";
            return null;
        }
        if (!values.TryGetValue("--port", out var portText) || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            problem = "--port must be a port number (0 for any free one)";
            return null;
        }
        int? parentPid = null;
        if (values.TryGetValue(ParentWatch.Option, out var parentText))
        {
            if (!int.TryParse(parentText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == 0)
            {
                problem = $"{ParentWatch.Option} must be a process id";
                return null;
            }
            parentPid = pid;
        }
        var socket = values.GetValueOrDefault(ReplicaSocket.Option);
        if (socket is not null && (socket.Length == 0 || !ReplicaSocket.Fits(socket)))
        {
            problem = $"{ReplicaSocket.Option} must be a path of 1 to {ReplicaSocket.MaxPathBytes} bytes (a Unix socket address holds no more)";
            return null;
        }
        var modelPath = Directory.Exists(model) ? ModelInFolder(model, out problem) : model;
        if (modelPath is null) return null;
        if (!File.Exists(modelPath))
        {
            problem = $"{model}: no such file or folder";
            return null;
        }
        var schemaPath = values.GetValueOrDefault("--schema") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "schema.json");
        if (values.ContainsKey("--schema") && !File.Exists(schemaPath))
        {
            problem = $"--schema {schemaPath}: no such file";
            return null;
        }
        return new ServeOptions
        {
            ModelPath = modelPath,
            SchemaPath = File.Exists(schemaPath) ? schemaPath : null,
            Port = port,
            Host = values.GetValueOrDefault("--host", DefaultHost),
            Socket = socket,
            ModelName = values.GetValueOrDefault("--model-name", DefaultModelName),
            Version = values.GetValueOrDefault("--version", DefaultVersion),
            ParentPid = parentPid,
        };
    }

    /// <summary>The model file of a folder: its <c>model.zip</c> or its <c>model.onnx</c>, but not both, which would be ambiguous.</summary>
    private static string? ModelInFolder(string folder, out string? problem)
    {
        problem = null;
        var zip = Path.Combine(folder, "model.zip");
        var onnx = Path.Combine(folder, "model.onnx");
        switch (File.Exists(zip), File.Exists(onnx))
        {
            case (true, false): return zip;
            case (false, true): return onnx;
            case (true, true):
                problem = $"{folder} holds both model.zip and model.onnx; give --model the file to serve";
                return null;
            default:
                problem = $"{folder} has no model.zip or model.onnx";
                return null;
        }
    }
}
