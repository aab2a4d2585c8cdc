using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Problems;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Deployments;

/// <summary>The deployment app on Kestrel, whose server-wide body limit (1 MiB) predictions must get past.</summary>
public sealed class KestrelDeploymentApp : DeploymentApp
{
    public KestrelDeploymentApp() => OnKestrel = true;
}

/// <summary>
/// Issue 15: a prediction of up to 16 MiB (docs/limits.md) reaches a replica, sent with a length or chunked;
/// one over it is a 413 problem. Kestrel's 1 MiB limit once answered those between 1 and 16 MiB with a 500.
/// </summary>
public sealed class PredictLimitTests(KestrelDeploymentApp app) : IClassFixture<KestrelDeploymentApp>
{
    [Fact]
    public async Task A_prediction_between_1_and_16_MiB_is_answered_and_one_over_16_MiB_is_a_413_problem()
    {
        var (tenant, client) = await app.TenantClientAsync("predict-size");
        using var _ = client;
        await DeploymentTests.RegisterAsync(app, client, tenant);
        using (var created = await client.PostAsJsonAsync("/v1/deployments", new { model = "churn@1", min_replicas = 1, max_replicas = 1 }))
        {
            await Http.ExpectAsync(created, 201);
        }
        await DeploymentTests.WaitForAsync(client, "churn", d => d.GetProperty("ready_replicas").GetInt32() == 1);

        // 3 MiB: one instance with a long string of padding in an unknown column.
        var padded = Instance(3 * 1024 * 1024);
        foreach (var chunked in new[] { false, true })
        {
            using HttpContent content = chunked ? new Problems.ChunkedContent(padded) : Json(padded);
            using var response = await client.PostAsync("/v1/deployments/churn/predict", content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode is 200 or 400, $"a 3 MiB prediction (chunked: {chunked}) got {(int)response.StatusCode}: {text[..Math.Min(300, text.Length)]}");
            if ((int)response.StatusCode == 400) Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        var tooLarge = Instance(BodyLimits.Predict + 1024);
        foreach (var chunked in new[] { false, true })
        {
            using HttpContent content = chunked ? new Problems.ChunkedContent(tooLarge) : Json(tooLarge);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/deployments/churn/predict") { Content = content };
            request.Headers.ExpectContinue = true;
            using var response = await client.SendAsync(request);
            await Http.ExpectProblemAsync(response, 413, ProblemTypes.PayloadTooLarge);
        }
    }

    private static byte[] Instance(int size)
    {
        var instance = JsonSerializer.Serialize(DeploymentTests.Instance);
        return Encoding.UTF8.GetBytes(instance[..^1] + ",\"padding\":\"" + new string('x', size) + "\"}");
    }

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
