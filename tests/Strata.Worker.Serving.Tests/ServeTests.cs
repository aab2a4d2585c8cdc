using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Strata.Core.Runtime.Local;

namespace Strata.Worker.Serving.Tests;

[Collection(TrainedModelsCollection.Name)]
public sealed class ServeTests(TrainedModels models) : IDisposable
{
    private const string Labels = "{model_name=\"churn\",version=\"3\"}";

    // A folder for a test's replica socket (a socket address holds 107 bytes: kept short, under the temporary folder).
    private readonly string _sockets = Directory.CreateTempSubdirectory("strata-serving-socket-").FullName;

    public void Dispose() => Directory.Delete(_sockets, recursive: true);

    [Fact]
    public async Task A_single_instance_gets_the_churn_label_and_its_probability()
    {
        await using var replica = await Replica.StartAsync(models.Churn);

        var (status, body) = await replica.PredictAsync(TrainedModels.ChurnInstance());

        Assert.Equal(200, status);
        Assert.Equal("churn", body.GetProperty("model_name").GetString());
        Assert.Equal("3", body.GetProperty("version").GetString());
        var prediction = body.GetProperty("prediction");
        // The label was boolean in the CSV, so the prediction is too.
        Assert.True(prediction.GetProperty("predicted_label").ValueKind is JsonValueKind.True or JsonValueKind.False);
        var probability = prediction.GetProperty("probability").GetDouble();
        Assert.InRange(probability, 0, 1);
        Assert.Equal(probability > 0.5, prediction.GetProperty("predicted_label").GetBoolean());
    }

    [Fact]
    public async Task A_batch_gets_one_prediction_per_instance_in_order_equal_to_single_predictions()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        // A new customer on a monthly contract churns far more often than a long-standing two-year one.
        var risky = TrainedModels.ChurnInstance(tenureMonths: 1, contract: "month-to-month");
        var loyal = TrainedModels.ChurnInstance(tenureMonths: 70, contract: "two-year");

        var (status, body) = await replica.PredictAsync(new { instances = new[] { risky, loyal, risky } });

        Assert.Equal(200, status);
        var predictions = body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("probability").GetDouble()).ToList();
        Assert.Equal(3, predictions.Count);
        Assert.True(predictions[0] > predictions[1], $"risky {predictions[0]} vs loyal {predictions[1]}");
        Assert.Equal(predictions[0], predictions[2]);
        var (_, single) = await replica.PredictAsync(loyal);
        Assert.Equal(predictions[1], single.GetProperty("prediction").GetProperty("probability").GetDouble());
        Assert.Equal(4, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Fact]
    public async Task Missing_values_are_null_and_the_label_and_unknown_categories_are_accepted()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        var instance = TrainedModels.ChurnInstance();
        instance["monthly_charges"] = null;
        instance["region"] = "atlantis";
        instance["churned"] = true;

        var (status, body) = await replica.PredictAsync(instance);

        Assert.Equal(200, status);
        Assert.InRange(body.GetProperty("prediction").GetProperty("probability").GetDouble(), 0, 1);
    }

    [Theory]
    [InlineData("tenure_months", "\"ten\"", "Must be a number")]
    [InlineData("plan", "3", "Must be a string")]
    [InlineData("tenure", "3", "'tenure' is not an input of this model")]
    public async Task A_schema_mismatch_is_a_400_naming_the_field_and_is_counted(string field, string json, string message)
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        var instance = TrainedModels.ChurnInstance().ToDictionary(p => p.Key, p => (object?)JsonSerializer.SerializeToElement(p.Value));
        instance[field] = JsonDocument.Parse(json).RootElement;

        var (status, body) = await replica.PredictAsync(new { instances = new[] { TrainedModels.ChurnInstance(), instance } });

        Assert.Equal(400, status);
        Assert.Equal("urn:strata:problem:validation", body.GetProperty("type").GetString());
        var errors = body.GetProperty("errors");
        Assert.Contains(message, errors.GetProperty($"instances[1].{field}")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains($"instances[1].{field}", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
        Assert.Equal(0, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Fact]
    public async Task A_missing_column_is_a_400_naming_it()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        var instance = TrainedModels.ChurnInstance();
        instance.Remove("support_calls");

        var (status, body) = await replica.PredictAsync(instance);

        Assert.Equal(400, status);
        Assert.Contains("Required", body.GetProperty("errors").GetProperty("support_calls")[0].GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"tenure_months\": ")]
    [InlineData("[1, 2]")]
    [InlineData("{\"instances\": []}")]
    [InlineData("{\"instances\": [1]}")]
    public async Task Malformed_bodies_are_400_problems_and_counted(string body)
    {
        await using var replica = await Replica.StartAsync(models.Churn);

        using var response = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
    }

    [Fact]
    public async Task Metrics_are_exactly_the_four_serving_metrics_labelled_with_model_and_version()
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        await replica.PredictAsync(TrainedModels.ChurnInstance());

        var text = await replica.MetricsAsync();

        Assert.Equal(["predictions_total", "prediction_duration_seconds", "model_loaded", "prediction_errors_total"], Replica.Families(text));
        Assert.Equal(1, await replica.MetricAsync("model_loaded" + Labels));
        Assert.Equal(1, await replica.MetricAsync("prediction_duration_seconds_count" + Labels));
        Assert.Equal(1, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Fact]
    public async Task A_file_that_is_not_a_model_leaves_the_replica_live_but_never_ready()
    {
        var folder = Directory.CreateTempSubdirectory("strata-serving-bad-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "model.zip"), "not a zip");
            await using var replica = await Replica.StartAsync(folder, waitForLoad: false);

            await Assert.ThrowsAsync<ModelLoadException>(() => replica.Loaded);

            Assert.Equal(HttpStatusCode.OK, (await replica.Client.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await replica.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
            var (status, _) = await replica.PredictAsync(TrainedModels.ChurnInstance());
            Assert.Equal(503, status);
            Assert.Equal(0, await replica.MetricAsync("model_loaded" + Labels));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_multiclass_model_names_its_classes()
    {
        await using var replica = await Replica.StartAsync(models.Multiclass, "tiers", "1");

        var (status, body) = await replica.PredictAsync(new { instances = new object[] { new { x = 1.0, colour = "red" }, new { x = 9.0, colour = "blue" } } });

        Assert.Equal(200, status);
        var predictions = body.GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal("bronze", predictions[0].GetProperty("predicted_label").GetString());
        Assert.Equal("gold", predictions[1].GetProperty("predicted_label").GetString());
        var probabilities = predictions[1].GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        Assert.Equal(["bronze", "gold", "silver"], probabilities.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("gold", probabilities.MaxBy(p => p.Value).Key);
    }

    [Fact]
    public async Task A_label_of_0_and_1_is_predicted_as_a_number()
    {
        await using var replica = await Replica.StartAsync(models.ZeroOne, "high", "1");

        var (status, body) = await replica.PredictAsync(new { instances = new object[] { new { x = 1.0, colour = "red" }, new { x = 9.0, colour = "blue" } } });

        Assert.Equal(200, status);
        var labels = body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("predicted_label")).ToList();
        Assert.All(labels, label => Assert.Equal(JsonValueKind.Number, label.ValueKind));
        Assert.Equal(["0", "1"], labels.Select(label => label.GetRawText()));
        // The model's float32 probability is written as the float's shortest form, not widened to 17 digits.
        var probability = body.GetProperty("predictions")[0].GetProperty("probability").GetRawText();
        Assert.Equal(float.Parse(probability, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), probability);
    }

    [Fact]
    public async Task Classes_written_as_numbers_are_predicted_as_numbers()
    {
        await using var replica = await Replica.StartAsync(models.NumberedClasses, "levels", "1");

        var (status, body) = await replica.PredictAsync(new { instances = new object[] { new { x = 1.0, colour = "red" }, new { x = 9.0, colour = "blue" } } });

        Assert.Equal(200, status);
        var predictions = body.GetProperty("predictions").EnumerateArray().ToList();
        Assert.Equal(["1", "3"], predictions.Select(p => p.GetProperty("predicted_label")).Select(l => l.ValueKind == JsonValueKind.Number ? l.GetRawText() : $"not a number: {l}"));
        // JSON keys are text: the probabilities stay keyed by the classes' names.
        Assert.Equal(["1", "2", "3"], predictions[1].GetProperty("probabilities").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_regression_model_predicts_a_value()
    {
        await using var replica = await Replica.StartAsync(models.Regression, "price", "1");

        var (status, body) = await replica.PredictAsync(new { x = 4.0, colour = "blue" });

        Assert.Equal(200, status);
        // About 3x + 5 + 0.5 for blue.
        Assert.InRange(body.GetProperty("prediction").GetProperty("value").GetDouble(), 15.5, 19.5);
    }

    [Fact]
    public async Task With_a_socket_a_replica_answers_frames_there_as_its_port_answers_predict_and_keeps_its_port_for_health_and_metrics()
    {
        var socket = Path.Combine(_sockets, "replica.sock");
        await using var replica = await Replica.StartAsync(models.Churn, socket: socket);
        // Forty predictions of different customers, a schema error, text that is not JSON and an empty body, all in one write.
        var bodies = Enumerable.Range(1, 40).Select(n => JsonSerializer.SerializeToUtf8Bytes(TrainedModels.ChurnInstance(tenureMonths: n)))
            .Append(JsonSerializer.SerializeToUtf8Bytes(new { tenure_months = "ten" })).Append("{\"tenure"u8.ToArray()).Append([]).ToList();

        await using var frames = await FrameConnection.OpenAsync(socket);
        var answers = await frames.SendAsync(bodies);

        Assert.Equal(bodies.Count, answers.Count);
        for (var i = 0; i < bodies.Count; i++)
        {
            // The same answer, byte for byte, as the port's POST /predict gives for that body.
            using var content = new ByteArrayContent(bodies[i]);
            content.Headers.ContentType = new("application/json");
            using var overHttp = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative), content);
            Assert.Equal((int)overHttp.StatusCode, answers[i].Status);
            Assert.Equal(overHttp.Content.Headers.ContentType?.MediaType, answers[i].ContentType);
            Assert.Equal(await overHttp.Content.ReadAsStringAsync(), Encoding.UTF8.GetString(answers[i].Body));
        }
        Assert.Equal(200, answers[0].Status);
        Assert.Equal([400, 400, 400], answers[^3..].Select(a => a.Status));
        using var ready = await replica.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        // Counted as over HTTP: forty predictions and three errors each way.
        Assert.Equal(80, await replica.MetricAsync("predictions_total" + Labels));
        Assert.Equal(6, await replica.MetricAsync("prediction_errors_total" + Labels));
    }

    [Fact]
    public async Task The_largest_batch_over_a_mebibyte_is_answered_whole_over_the_port_and_over_the_socket()
    {
        var socket = Path.Combine(_sockets, "replica.sock");
        await using var replica = await Replica.StartAsync(models.Churn, socket: socket);
        // 10,000 instances, the most a request may hold: over a mebibyte.
        var body = JsonSerializer.SerializeToUtf8Bytes(new { instances = Enumerable.Range(0, 10_000).Select(n => TrainedModels.ChurnInstance(tenureMonths: n % 72)) });
        Assert.True(body.Length > 1024 * 1024, $"{body.Length} bytes");

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var overHttp = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative), content);
        await using var frames = await FrameConnection.OpenAsync(socket);
        var overSocket = (await frames.SendAsync([body]))[0];

        Assert.Equal(HttpStatusCode.OK, overHttp.StatusCode);
        var answer = await overHttp.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(10_000, answer.GetProperty("predictions").GetArrayLength());
        Assert.Equal(200, overSocket.Status);
        Assert.Equal(answer.GetRawText(), JsonSerializer.Deserialize<JsonElement>(overSocket.Body).GetRawText());
    }

    [Fact]
    public async Task A_connection_that_sends_what_is_not_a_frame_is_closed_and_the_replica_serves_the_next_one()
    {
        var socket = Path.Combine(_sockets, "replica.sock");
        await using var replica = await Replica.StartAsync(models.Churn, socket: socket);

        await using (var bad = await FrameConnection.OpenAsync(socket))
        {
            // A length over the limit: the replica does not wait for 64 MiB that will never be a request.
            var header = new byte[12];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header, ReplicaFrames.MaxFrameBytes + 1);
            Assert.True(await bad.IsClosedAfterAsync(header));
        }
        await using var good = await FrameConnection.OpenAsync(socket);
        var answers = await good.SendAsync([JsonSerializer.SerializeToUtf8Bytes(TrainedModels.ChurnInstance())]);

        Assert.Equal(200, answers[0].Status);
    }

    [Fact]
    public async Task A_stopping_replica_closes_the_servers_connection_once_its_answers_are_written_and_does_not_wait_for_it()
    {
        var socket = Path.Combine(_sockets, "replica.sock");
        var replica = await Replica.StartAsync(models.Churn, socket: socket);
        await using var frames = await FrameConnection.OpenAsync(socket);
        Assert.Equal(200, (await frames.SendAsync([JsonSerializer.SerializeToUtf8Bytes(TrainedModels.ChurnInstance())]))[0].Status);

        // As SIGTERM does. The connection stays open on the server's side: the replica closes it, rather than
        // holding its exit until the host's shutdown timeout (30 s) ends it.
        var stopping = replica.DisposeAsync().AsTask();

        var closed = frames.IsClosedAfterAsync([]);
        await Task.WhenAll(closed, stopping).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(await closed);
    }

    /// <summary>A connection to a replica's socket speaking its frames (<see cref="ReplicaFrames"/>), as the server's router does.</summary>
    private sealed class FrameConnection(Socket socket) : IAsyncDisposable
    {
        private readonly NetworkStream _stream = new(socket, ownsSocket: true);

        public static async Task<FrameConnection> OpenAsync(string path)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return new FrameConnection(socket);
        }

        /// <summary>Sends every body as a request (ids 100, 101, ...) in one write; their answers in the order of the bodies.</summary>
        public async Task<List<(int Status, string? ContentType, byte[] Body)>> SendAsync(List<byte[]> bodies)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            for (var i = 0; i < bodies.Count; i++) ReplicaFrames.WriteRequest(output, 100 + i, bodies[i]);
            await _stream.WriteAsync(output.WrittenMemory);
            var answers = new (int, string?, byte[])[bodies.Count];
            var reader = System.IO.Pipelines.PipeReader.Create(_stream, new System.IO.Pipelines.StreamPipeReaderOptions(leaveOpen: true));
            for (var left = bodies.Count; left > 0;)
            {
                var read = await reader.ReadAsync();
                var buffer = read.Buffer;
                while (ReplicaFrames.TryRead(ref buffer, out var frame))
                {
                    answers[frame.Id - 100] = (frame.Code, frame.ContentType, System.Buffers.BuffersExtensions.ToArray(frame.Body));
                    left--;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted && left > 0) throw new IOException("The replica closed the connection with answers missing.");
            }
            return [.. answers];
        }

        /// <summary>Writes <paramref name="bytes"/> as they are; whether the replica then closed the connection.</summary>
        public async Task<bool> IsClosedAfterAsync(byte[] bytes)
        {
            await _stream.WriteAsync(bytes);
            return await _stream.ReadAsync(new byte[1]) == 0;
        }

        public ValueTask DisposeAsync() => _stream.DisposeAsync();
    }

    [Fact]
    public void A_socket_path_longer_than_a_socket_address_holds_is_refused()
    {
        var options = ServeOptions.Parse(["--model", models.Churn, "--port", "0", "--socket", "/tmp/" + new string('s', 103)], out var problem);

        Assert.Null(options);
        Assert.Contains("--socket must be a path of 1 to 107 bytes", problem, StringComparison.Ordinal);
        Assert.NotNull(ServeOptions.Parse(["--model", models.Churn, "--port", "0", "--socket", "/tmp/" + new string('s', 102)], out _));
    }

    [Fact]
    public async Task The_worker_process_serves_until_stopped_and_says_why_a_model_cannot_load()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "strata-worker.dll");
        var usage = await RunAsync(dll, "serve", "--port", "0");
        Assert.Equal(ServeCommand.Usage, usage.Exit);
        Assert.Contains("--model is required", usage.Error, StringComparison.Ordinal);

        var folder = Directory.CreateTempSubdirectory("strata-serving-bad-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "model.zip"), "not a zip");
            var bad = await RunAsync(dll, "serve", "--model", folder, "--port", "0");
            Assert.Equal(ServeCommand.ModelError, bad.Exit);
            Assert.Contains("not an ML.NET model", bad.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<(int Exit, string Error)> RunAsync(string dll, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await error);
    }
}

/// <summary>Issue 15: a replica answers text that is not text with a 400 problem, never an empty 500.</summary>
[Collection(TrainedModelsCollection.Name)]
public sealed class ServeMalformedTextTests(TrainedModels models)
{
    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC0, 0x80 })]
    [InlineData(new byte[] { 0x5C, 0x75, 0x64, 0x38, 0x30, 0x30 })]
    [InlineData(new byte[] { 0x5C, 0x75, 0x30, 0x30, 0x30, 0x30 })]
    public async Task A_string_that_is_not_valid_text_is_a_400_problem(byte[] inside)
    {
        await using var replica = await Replica.StartAsync(models.Churn);
        var before = Encoding.UTF8.GetBytes("{\"region\": \"a");
        var after = Encoding.UTF8.GetBytes("b\", \"plan\": \"basic\"}");
        using var content = new ByteArrayContent([.. before, .. inside, .. after]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative), content);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Contains("region", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
