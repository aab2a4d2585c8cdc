using System.Net.Http.Json;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>The app for ONNX deployments: no model to train, the ONNX fixtures of the serving tests are registered as they are.</summary>
public sealed class OnnxDeploymentApp : StrataApp
{
    /// <summary>A ZipMap classifier with one [N,4] float input (tests/Strata.Worker.Serving.Tests/Onnx, built by make_fixtures.py).</summary>
    public static string IrisModel => Path.Combine(Repository(), "tests", "Strata.Worker.Serving.Tests", "Onnx", "iris_zipmap.onnx");

    /// <summary>Its instances and the answers numpy computed for them.</summary>
    public static JsonElement IrisExpected { get; } =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(IrisModel)!, "expected.json"))).RootElement.GetProperty("iris_zipmap");

    private static string Repository()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}

public sealed class OnnxDeploymentTests(OnnxDeploymentApp app) : IClassFixture<OnnxDeploymentApp>
{
    /// <summary>Registers the iris ONNX model in the tenant through the API, as a job that wrote it would.</summary>
    private async Task RegisterAsync(HttpClient client, string tenant)
    {
        var folder = Path.Combine(app.DataPath, "artifacts", tenant, "out");
        Directory.CreateDirectory(folder);
        File.Copy(OnnxDeploymentApp.IrisModel, Path.Combine(folder, "model.onnx"), overwrite: true);
        using var response = await client.PostAsJsonAsync("/v1/models/iris/versions", new { path = "out/model.onnx" });
        var version = await Http.ExpectAsync(response, 201);
        Assert.Equal(ModelFormats.Onnx, version.GetProperty("format").GetString());
    }

    [Fact]
    public async Task An_onnx_version_is_deployed_and_predicts_through_the_platform_and_is_404_to_another_tenant()
    {
        var (tenant, client) = await app.TenantClientAsync("onnx");
        var (_, other) = await app.TenantClientAsync("onnx-other");
        using var c1 = client;
        using var c2 = other;
        await RegisterAsync(client, tenant);

        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "iris@1", min_replicas = 1, max_replicas = 1 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "iris", d => DeploymentTests.IsReadyAt(d, 1, 1));

        var instances = OnnxDeploymentApp.IrisExpected.GetProperty("instances");
        var expected = OnnxDeploymentApp.IrisExpected.GetProperty("predictions");
        using (var single = await client.PostAsJsonAsync("/v1/deployments/iris/predict", instances[1]))
        {
            var prediction = (await Http.ExpectAsync(single, 200)).GetProperty("prediction");
            Assert.Equal(expected[1].GetProperty("predicted_label").GetString(), prediction.GetProperty("predicted_label").GetString());
            Assert.Equal(expected[1].GetProperty("probabilities").GetProperty("virginica").GetDouble(),
                prediction.GetProperty("probabilities").GetProperty("virginica").GetDouble(), 5);
        }
        using (var batch = await client.PostAsJsonAsync("/v1/deployments/iris/predict", new { instances }))
        {
            var body = await Http.ExpectAsync(batch, 200);
            Assert.Equal("1", body.GetProperty("version").GetString());
            Assert.Equal(expected.EnumerateArray().Select(p => p.GetProperty("predicted_label").GetString()),
                body.GetProperty("predictions").EnumerateArray().Select(p => p.GetProperty("predicted_label").GetString()));
        }
        using (var mismatch = await client.PostAsJsonAsync("/v1/deployments/iris/predict", JsonDocument.Parse("{\"input\": [1.0, 2.0]}").RootElement))
        {
            // The replica's own 400, naming the field, reaches the caller.
            var problem = await Http.ExpectProblemAsync(mismatch, 400, ProblemTypes.Validation);
            Assert.Equal("Must be an array of 4 numbers, not an array of 2.", problem.GetProperty("errors").GetProperty("input")[0].GetString());
        }

        using (var get = await other.GetAsync("/v1/deployments/iris")) await Http.ExpectProblemAsync(get, 404, ProblemTypes.NotFound);
        using (var predict = await other.PostAsJsonAsync("/v1/deployments/iris/predict", instances[0])) await Http.ExpectProblemAsync(predict, 404, ProblemTypes.NotFound);

        using (var deleted = await client.DeleteAsync("/v1/deployments/iris")) Assert.Equal(204, (int)deleted.StatusCode);
    }
}
