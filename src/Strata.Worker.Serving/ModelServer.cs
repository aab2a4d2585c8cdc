using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Strata.Contracts;

namespace Strata.Worker.Serving;

/// <summary>
/// One model replica: a lean Kestrel app with <c>POST /predict</c>, <c>/health/live</c>,
/// <c>/health/ready</c> (503 until the model is loaded) and <c>/metrics</c>. The model loads after the
/// server starts listening, so that a supervisor sees a live process that is not ready yet.
/// </summary>
public sealed class ModelServer : IAsyncDisposable
{
    private readonly ServeOptions _options;
    private readonly WebApplication _app;
    private readonly ServingMetrics _metrics;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loading = Task.CompletedTask;
    private volatile IServedModel? _model;

    public ModelServer(ServeOptions options)
    {
        _options = options;
        _metrics = new ServingMetrics(options.ModelName, options.Version);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
            if (options.Socket is { } socket)
            {
                // A socket file left by an earlier replica of the same name would make the bind fail.
                File.Delete(socket);
                // The server's predictions, as frames (SocketPredictions); the TCP port stays HTTP for probes, scrapes and other callers.
                kestrel.ListenUnixSocket(socket, listen =>
                {
                    var logger = listen.ApplicationServices.GetRequiredService<ILogger<ModelServer>>();
                    listen.Run(new SocketPredictions((body, started) => AnswerOrFail(body, started, logger), logger).OnConnectedAsync);
                });
            }
            kestrel.AddServerHeader = false;
        });
        _app = builder.Build();
        _app.Use(LastResortAsync);
        _app.MapPost("/predict", PredictAsync);
        _app.MapGet("/health/live", () => Results.Json(new { status = "live" }));
        _app.MapGet("/health/ready", Ready);
        _app.MapGet("/metrics", MetricsAsync);
    }

    /// <summary>Completes when the model is loaded; faults with <see cref="ModelLoadException"/> when it cannot be.</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>The TCP address it listens on (with the actual port when <c>--port 0</c> was given); its socket, if any, is <see cref="ServeOptions.Socket"/>.</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
        .First(address => !address.StartsWith("http://unix:", StringComparison.Ordinal)));

    /// <summary>Starts listening, then loads the model in the background.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _app.StartAsync(cancellationToken);
        _loading = Task.Run(Load, CancellationToken.None);
    }

    /// <summary>Runs until the process is asked to stop (SIGTERM, Ctrl-C), letting requests in flight finish.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public Task StopAsync() => _app.StopAsync();

    /// <summary>Asks the server to stop as SIGTERM does: <see cref="WaitForShutdownAsync"/> then completes once it has.</summary>
    public void RequestStop() => _app.Lifetime.StopApplication();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        // A replica stopped while it loads (its parent died) waits for the load: exiting while ONNX Runtime
        // is still initialising on another thread ends the process with SIGSEGV instead of its exit status.
        await _loading.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        (_model as IDisposable)?.Dispose();
    }

    private void Load()
    {
        try
        {
            _model = _options.IsOnnx ? OnnxModel.Load(_options.ModelPath) : LoadMlNet();
            _metrics.Loaded.Set(1);
            _loaded.TrySetResult();
        }
        catch (Exception e) when (e is ModelLoadException or IOException or JsonException)
        {
            _loaded.TrySetException(e is ModelLoadException ? e : new ModelLoadException(e.Message, e));
        }
    }

    private MlNetModel LoadMlNet()
    {
        var schema = _options.SchemaPath is { } path ? ReadSchema(path) : null;
        return new MlNetModel(MlNetPredictor.Load(_options.ModelPath, schema));
    }

    private static ModelInputSchema ReadSchema(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ModelInputSchema>(File.ReadAllText(path), StrataJson.Options)
                ?? throw new ModelLoadException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path} is not a model input schema: {e.Message}", e);
        }
    }

    private IResult Ready() => _model is null
        ? Results.Problem("The model is still loading.", statusCode: 503, title: "Not ready", type: ProblemTypes.Unavailable)
        : Results.Json(new { status = "ready", model_name = _options.ModelName, version = _options.Version });

    private async Task MetricsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await _metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>
    /// <c>POST /predict</c>: the body read whole (Kestrel bounds it), answered by <see cref="Answer"/> with its
    /// length, so that the answer is one write and not chunked.
    /// </summary>
    private async Task PredictAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var reader = context.Request.BodyReader;
        System.IO.Pipelines.ReadResult read;
        // The whole body in Kestrel's buffer (the largest batch, 1.6 MB, included: tested), parsed from there.
        while (!(read = await reader.ReadAsync(context.RequestAborted)).IsCompleted) reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        Reply reply;
        try
        {
            reply = Answer(read.Buffer, started);
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = reply.ContentType;
        context.Response.ContentLength = reply.Body.WrittenCount;
        await context.Response.Body.WriteAsync(reply.Body.WrittenMemory, context.RequestAborted);
    }

    /// <summary>A frame's answer: what escapes <see cref="Answer"/> is a 500, as <see cref="LastResortAsync"/> makes it over HTTP.</summary>
    private Reply AnswerOrFail(ReadOnlySequence<byte> body, long started, ILogger logger)
    {
        try
        {
            return Answer(body, started);
        }
        catch (Exception e)
        {
            _metrics.Errors.Inc();
            logger.LogError(e, "Unhandled error answering a prediction on the socket");
            return Problem(500, "Internal error", ProblemTypes.Internal, "The replica failed to answer this request; see its log.");
        }
    }

    /// <summary>An answer to a prediction request: what <c>POST /predict</c> answers, and a frame on the socket carries.</summary>
    internal sealed record Reply(int Status, string ContentType, ArrayBufferWriter<byte> Body);

    /// <summary>
    /// Answers one prediction request's body, however it came (HTTP, or a frame on the server's socket), and
    /// counts it: the predictions, or an error; the duration from <paramref name="started"/> to the answer written.
    /// </summary>
    internal Reply Answer(ReadOnlySequence<byte> body, long started)
    {
        var model = _model;
        if (model is null)
        {
            _metrics.Errors.Inc();
            return Problem(503, "Not ready", ProblemTypes.Unavailable, "The model is still loading; retry when /health/ready answers 200.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            _metrics.Errors.Inc();
            return Problem(400, "Malformed request", ProblemTypes.MalformedRequest, $"The body is not valid JSON: {e.Message}");
        }
        using (document)
        {
            if (JsonValues.FindBadText(document.RootElement, "") is { } bad)
            {
                _metrics.Errors.Inc();
                return Problem(400, "Malformed request", ProblemTypes.MalformedRequest, $"The body is not valid text at {(bad.Length == 0 ? "its root" : bad)}: send UTF-8 without lone surrogates.");
            }
            IAnswer answer;
            try
            {
                answer = model.Predict(document.RootElement);
            }
            catch (PredictionFailedException e)
            {
                _metrics.Errors.Inc();
                return Problem(500, "Prediction failed", ProblemTypes.Internal, e.Message);
            }
            using (answer)
            {
                if (answer.Errors.Count > 0)
                {
                    _metrics.Errors.Inc();
                    return Invalid(answer.Errors);
                }
                var reply = new Reply(200, "application/json", Write(answer));
                _metrics.Predictions.Inc(answer.Count);
                _metrics.Duration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
                return reply;
            }
        }
    }

    /// <summary>
    /// What escapes a route is answered as problem+json, never as an empty 500: a request Kestrel could not
    /// read keeps its 4xx, anything else is a 500 that is logged and counted as an error.
    /// </summary>
    private async Task LastResortAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            _metrics.Errors.Inc();
            await WriteAsync(context, Problem(e.StatusCode, e.StatusCode == 413 ? "Request too large" : "Malformed request",
                e.StatusCode == 413 ? ProblemTypes.PayloadTooLarge : ProblemTypes.MalformedRequest, $"The request could not be read: {e.Message}"));
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            _metrics.Errors.Inc();
            context.RequestServices.GetRequiredService<ILogger<ModelServer>>().LogError(e, "Unhandled error answering {Path}", context.Request.Path.Value);
            await WriteAsync(context, Problem(500, "Internal error", ProblemTypes.Internal, "The replica failed to answer this request; see its log."));
        }
    }

    private ArrayBufferWriter<byte> Write(IAnswer answer)
    {
        var body = new ArrayBufferWriter<byte>(256);
        using var json = new Utf8JsonWriter(body);
        json.WriteStartObject();
        json.WriteString("model_name", _options.ModelName);
        json.WriteString("version", _options.Version);
        if (answer.Batch)
        {
            json.WriteStartArray("predictions");
            for (var i = 0; i < answer.Count; i++) answer.Write(json, i);
            json.WriteEndArray();
        }
        else
        {
            json.WritePropertyName("prediction");
            answer.Write(json, 0);
        }
        json.WriteEndObject();
        json.Flush();
        return body;
    }

    private static async Task WriteAsync(HttpContext context, Reply reply)
    {
        context.Response.StatusCode = reply.Status;
        context.Response.ContentType = reply.ContentType;
        context.Response.ContentLength = reply.Body.WrittenCount;
        await context.Response.Body.WriteAsync(reply.Body.WrittenMemory, context.RequestAborted);
    }

    private static Reply Problem(int status, string title, string type, string detail) => ProblemReply(status, new { type, title, status, detail });

    private static Reply Invalid(Dictionary<string, string[]> errors)
    {
        var detail = "The input does not match the model's schema: " + string.Join("; ", errors.Take(5).Select(e => $"{(e.Key.Length == 0 ? "body" : e.Key)}: {e.Value[0].TrimEnd('.')}")) +
            (errors.Count > 5 ? $" (and {errors.Count - 5} more)" : "");
        return ProblemReply(400, new { type = ProblemTypes.Validation, title = "Invalid input", status = 400, detail, errors });
    }

    // Problems are rare: serialized as ASP.NET Core's results would (its web defaults), by reflection.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Anonymous problem objects of this assembly, kept by their use here.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Anonymous problem objects of this assembly, kept by their use here.")]
    private static Reply ProblemReply<T>(int status, T problem)
    {
        var body = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body)) JsonSerializer.Serialize(json, problem, JsonSerializerOptions.Web);
        return new Reply(status, "application/problem+json", body);
    }
}
