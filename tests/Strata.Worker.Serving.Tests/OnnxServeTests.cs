using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Strata.Worker.Serving.Tests;

/// <summary>
/// <c>serve</c> with the ONNX models of Onnx/ (built by make_fixtures.py), whose expected answers
/// (expected.json) numpy computed from the same weights.
/// </summary>
public sealed class OnnxServeTests
{
    private const string Labels = "{model_name=\"onnx\",version=\"1\"}";

    private static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Fixture("expected.json"))).RootElement;

    private static string Fixture(string file) => Path.Combine(AppContext.BaseDirectory, "Onnx", file);

    private static Task<Replica> StartAsync(string model, bool waitForLoad = true) =>
        Replica.StartAsync(Fixture(model + ".onnx"), "onnx", "1", waitForLoad);

    private static JsonElement Instances(string model) => Expected.GetProperty(model).GetProperty("instances");

    private static List<JsonElement> Predictions(string model) => [.. Expected.GetProperty(model).GetProperty("predictions").EnumerateArray()];

    [Theory]
    [InlineData("churn_classifier")]
    [InlineData("iris_zipmap")]
    [InlineData("regression")]
    [InlineData("fixed_batch")]
    public async Task A_batch_is_answered_as_numpy_computed_each_instance(string model)
    {
        await using var replica = await StartAsync(model);

        var (status, body) = await replica.PredictAsync(new { instances = Instances(model) });

        Assert.Equal(200, status);
        Assert.Equal("onnx", body.GetProperty("model_name").GetString());
        Assert.Equal("1", body.GetProperty("version").GetString());
        var predictions = body.GetProperty("predictions").EnumerateArray().ToList();
        var expected = Predictions(model);
        Assert.Equal(expected.Count, predictions.Count);
        for (var i = 0; i < expected.Count; i++) AssertClose(expected[i], predictions[i], $"predictions[{i}]");
        Assert.Equal(expected.Count, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Theory]
    [InlineData("churn_classifier")]
    [InlineData("iris_zipmap")]
    [InlineData("fixed_batch")]
    public async Task A_single_instance_gets_the_same_answer_as_in_a_batch(string model)
    {
        await using var replica = await StartAsync(model);
        var expected = Predictions(model);

        for (var i = 0; i < expected.Count; i++)
        {
            var (status, body) = await replica.PredictAsync(Instances(model)[i]);

            Assert.Equal(200, status);
            AssertClose(expected[i], body.GetProperty("prediction"), $"instance {i}");
        }
    }

    [Fact]
    public async Task A_classifier_answers_its_label_and_probabilities_like_an_ml_net_classifier()
    {
        await using var replica = await StartAsync("churn_classifier");

        var (_, body) = await replica.PredictAsync(Instances("churn_classifier")[0]);

        // The outputs `label` and `probabilities` are renamed; the label keeps its type (int64).
        var prediction = body.GetProperty("prediction");
        Assert.Equal(["predicted_label", "probabilities"], prediction.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, prediction.GetProperty("predicted_label").GetInt64());
        Assert.Equal(2, prediction.GetProperty("probabilities").GetArrayLength());
    }

    [Fact]
    public async Task A_zipmap_classifier_names_its_classes()
    {
        await using var replica = await StartAsync("iris_zipmap");

        var (_, body) = await replica.PredictAsync(Instances("iris_zipmap")[0]);

        var prediction = body.GetProperty("prediction");
        Assert.Equal("setosa", prediction.GetProperty("predicted_label").GetString());
        Assert.Equal(["setosa", "versicolor", "virginica"], prediction.GetProperty("probabilities").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_model_with_a_single_array_input_takes_bare_arrays_too()
    {
        await using var replica = await StartAsync("regression");
        var rows = Instances("regression").EnumerateArray().Select(i => i.GetProperty("features")).ToList();

        var (singleStatus, single) = await replica.PredictAsync(rows[0]);
        var (batchStatus, batch) = await replica.PredictAsync(new { instances = rows });

        Assert.Equal(200, singleStatus);
        // The output keeps its own name: only classifiers' outputs are renamed.
        AssertClose(Predictions("regression")[0], single.GetProperty("prediction"), "single");
        Assert.Equal(200, batchStatus);
        AssertClose(Predictions("regression")[1], batch.GetProperty("predictions")[1], "batch");
    }

    [Fact]
    public async Task A_missing_number_is_null_and_a_result_that_is_not_a_number_is_null()
    {
        await using var replica = await StartAsync("churn_classifier");
        var instance = Instances("churn_classifier")[0].EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        instance["tenure_months"] = null;

        var (status, body) = await replica.PredictAsync(instance);

        // NaN in, NaN out of the sigmoid: the probabilities cannot be told, and NaN > 0.5 is false.
        Assert.Equal(200, status);
        var prediction = body.GetProperty("prediction");
        Assert.Equal(0, prediction.GetProperty("predicted_label").GetInt64());
        Assert.All(prediction.GetProperty("probabilities").EnumerateArray(), p => Assert.Equal(JsonValueKind.Null, p.ValueKind));
    }

    [Theory]
    [InlineData("churn_classifier", "tenure_months", "\"ten\"", "Must be a number (or null for a missing value), not the string \"ten\"")]
    [InlineData("churn_classifier", "support_calls", "2.5", "Must be a whole number, not the number 2.5")]
    [InlineData("churn_classifier", "plan", "3", "Must be a string, not the number 3")]
    [InlineData("churn_classifier", "plan", "null", "Must be a string, not null")]
    [InlineData("churn_classifier", "paperless_billing", "\"yes\"", "Must be true or false, not the string \"yes\"")]
    [InlineData("churn_classifier", "churned", "true", "'churned' is not an input of this model; its inputs are: tenure_months, monthly_charges, support_calls, plan, paperless_billing")]
    [InlineData("iris_zipmap", "input", "[1, 2, 3]", "Must be an array of 4 numbers, not an array of 3")]
    [InlineData("iris_zipmap", "input", "5.1", "Must be an array of 4 numbers, not the number 5.1")]
    [InlineData("iris_zipmap", "input", "[1, 2, \"x\", 4]", "Element [2] must be a number (or null for a missing value), not the string \"x\"")]
    [InlineData("fixed_batch", "x", "[[1, 2], [3]]", "Must be a 2×2 nested array of numbers: [1] must have 2 elements, not an array of 1")]
    public async Task A_schema_mismatch_is_a_400_naming_the_field_and_is_counted(string model, string field, string json, string message)
    {
        await using var replica = await StartAsync(model);
        var instance = Instances(model)[0].EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        instance[field] = JsonDocument.Parse(json).RootElement;

        var (status, body) = await replica.PredictAsync(new { instances = new object[] { Instances(model)[0], instance } });

        Assert.Equal(400, status);
        Assert.Equal("urn:strata:problem:validation", body.GetProperty("type").GetString());
        Assert.Equal(message + ".", body.GetProperty("errors").GetProperty($"instances[1].{field}")[0].GetString());
        Assert.Contains($"instances[1].{field}", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
        Assert.Equal(0, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Fact]
    public async Task A_missing_input_is_a_400_naming_it()
    {
        await using var replica = await StartAsync("churn_classifier");
        var instance = Instances("churn_classifier")[0].EnumerateObject().Where(p => p.Name != "support_calls").ToDictionary(p => p.Name, p => p.Value);

        var (status, body) = await replica.PredictAsync(instance);

        Assert.Equal(400, status);
        Assert.Equal("Required: a whole number.", body.GetProperty("errors").GetProperty("support_calls")[0].GetString());
    }

    [Theory]
    [InlineData("churn_classifier", "[1, 2]")]
    [InlineData("churn_classifier", "{\"instances\": [[1, 2, 3, 4, 5]]}")]
    [InlineData("iris_zipmap", "\"setosa\"")]
    [InlineData("iris_zipmap", "{\"instances\": []}")]
    [InlineData("iris_zipmap", "{\"instances\": [1]}")]
    [InlineData("iris_zipmap", "{\"input\": ")]
    public async Task Malformed_bodies_are_400_problems_and_counted(string model, string body)
    {
        await using var replica = await StartAsync(model);

        using var response = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
    }

    [Fact]
    public async Task An_onnx_replica_is_ready_and_has_exactly_the_four_serving_metrics()
    {
        await using var replica = await StartAsync("iris_zipmap");
        await replica.PredictAsync(new { instances = Instances("iris_zipmap") });

        var ready = await replica.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        var text = await replica.MetricsAsync();

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(["predictions_total", "prediction_duration_seconds", "model_loaded", "prediction_errors_total"], Replica.Families(text));
        Assert.Equal(1, await replica.MetricAsync("model_loaded" + Labels));
        Assert.Equal(3, await replica.MetricAsync("predictions_total" + Labels));
        Assert.Equal(1, await replica.MetricAsync("prediction_duration_seconds_count" + Labels));
        Assert.Equal(0, await replica.MetricAsync("prediction_errors_total" + Labels));
    }

    [Fact]
    public async Task A_model_that_fails_while_running_is_a_500_problem_and_counted()
    {
        await using var replica = await StartAsync("fails_on_batches");
        var (single, _) = await replica.PredictAsync(new[] { 1.0, 2.0 });

        using var response = await replica.Client.PostAsync(new Uri("/predict", UriKind.Relative),
            new StringContent("{\"instances\": [[1, 2], [3, 4]]}", Encoding.UTF8, "application/json"));

        Assert.Equal(200, single);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("urn:strata:problem:internal", problem.GetProperty("type").GetString());
        Assert.StartsWith("The model failed on this input: ", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await replica.MetricAsync("prediction_errors_total" + Labels));
        Assert.Equal(1, await replica.MetricAsync("predictions_total" + Labels));
    }

    [Fact]
    public async Task A_model_whose_instances_cannot_be_checked_is_refused_with_the_reason()
    {
        await using var replica = await StartAsync("dynamic_features", waitForLoad: false);

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => replica.Loaded);

        Assert.Equal("the model's input 'x' has shape [N, F]; every dimension after the batch must be fixed, so that instances can be checked", e.Message);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await replica.Client.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public void A_folder_is_served_by_its_model_onnx_unless_it_also_holds_a_model_zip()
    {
        var folder = Directory.CreateTempSubdirectory("strata-serving-onnx-").FullName;
        try
        {
            File.Copy(Fixture("regression.onnx"), Path.Combine(folder, "model.onnx"));
            var options = ServeOptions.Parse(["--model", folder, "--port", "0"], out _);
            Assert.True(options is { IsOnnx: true });
            Assert.Equal(Path.Combine(folder, "model.onnx"), options.ModelPath);

            File.WriteAllText(Path.Combine(folder, "model.zip"), "");
            Assert.Null(ServeOptions.Parse(["--model", folder, "--port", "0"], out var problem));
            Assert.Equal($"{folder} holds both model.zip and model.onnx; give --model the file to serve", problem);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_corrupt_onnx_file_ends_the_worker_process_with_status_1_and_one_line_saying_why()
    {
        var folder = Directory.CreateTempSubdirectory("strata-serving-onnx-").FullName;
        try
        {
            // Starts as an ONNX protobuf does (ir_version), so that only the runtime can tell.
            var bytes = File.ReadAllBytes(Fixture("iris_zipmap.onnx"));
            await File.WriteAllBytesAsync(Path.Combine(folder, "model.onnx"), bytes[..(bytes.Length / 2)]);

            var (exit, error) = await RunWorkerAsync("serve", "--model", folder, "--port", "0");

            Assert.Equal(ServeCommand.ModelError, exit);
            var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"strata-worker serve: {Path.Combine(folder, "model.onnx")}: not an ONNX model that ONNX Runtime can load: ", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Asserts that <paramref name="actual"/> has the shape and values of <paramref name="expected"/>, numbers within 1e-5 (float32 arithmetic).</summary>
    private static void AssertClose(JsonElement expected, JsonElement actual, string path)
    {
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.True(actual.ValueKind == JsonValueKind.Object, $"{path}: expected an object, got {actual}");
                Assert.Equal(expected.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), actual.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
                foreach (var property in expected.EnumerateObject()) AssertClose(property.Value, actual.GetProperty(property.Name), $"{path}.{property.Name}");
                break;
            case JsonValueKind.Array:
                Assert.True(actual.ValueKind == JsonValueKind.Array && actual.GetArrayLength() == expected.GetArrayLength(), $"{path}: expected {expected}, got {actual}");
                for (var i = 0; i < expected.GetArrayLength(); i++) AssertClose(expected[i], actual[i], $"{path}[{i}]");
                break;
            case JsonValueKind.Number:
                Assert.True(actual.ValueKind == JsonValueKind.Number, $"{path}: expected a number, got {actual}");
                var (e, a) = (expected.GetDouble(), actual.GetDouble());
                Assert.True(Math.Abs(e - a) <= 1e-5 * Math.Max(1, Math.Abs(e)), $"{path}: expected {e.ToString(CultureInfo.InvariantCulture)}, got {a.ToString(CultureInfo.InvariantCulture)}");
                break;
            default:
                Assert.Equal(expected.GetRawText(), actual.GetRawText());
                break;
        }
    }

    private static async Task<(int Exit, string Error)> RunWorkerAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "strata-worker.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await error);
    }
}
