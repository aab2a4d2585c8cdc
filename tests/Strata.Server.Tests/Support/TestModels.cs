using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Auth;

namespace Strata.Server.Tests.Support;

/// <summary>Registered model versions without training one, and the tokens a deployment would fetch them with.</summary>
public static class TestModels
{
    /// <summary>Bytes that pass for an ML.NET model (a zip's signature), distinct per <paramref name="text"/>.</summary>
    public static byte[] ModelBytes(string text) => [(byte)'P', (byte)'K', 3, 4, .. System.Text.Encoding.UTF8.GetBytes(text)];

    /// <summary>
    /// Writes <paramref name="content"/> into the tenant's artifact area and registers it as <paramref name="model"/>'s
    /// next version with <paramref name="client"/> (a member's), with <paramref name="inputSchema"/> as its
    /// <c>input_schema</c> when given; returns the version. Fails the test unless it is 201.
    /// </summary>
    public static async Task<JsonElement> RegisterAsync(
        StrataApp app, HttpClient client, string tenant, string model, byte[] content, object? inputSchema = null)
    {
        var relative = $"out/{model}-{Guid.NewGuid():N}.zip";
        var path = Path.Combine(app.DataPath, "artifacts", tenant, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, content);
        object body = inputSchema is null ? new { path = relative } : new { path = relative, input_schema = inputSchema };
        using var response = await client.PostAsJsonAsync($"/v1/models/{model}/versions", body);
        return await Http.ExpectAsync(response, 201);
    }

    /// <summary>A model-fetch token for <paramref name="tenant"/>'s <paramref name="model"/>, issued as the server issues one for a deployment.</summary>
    public static async Task<string> FetchTokenAsync(StrataApp app, string tenant, string model, TimeSpan? lifetime = null)
    {
        var entry = await app.Services.GetRequiredService<TenantDirectory>().FindAsync(tenant, CancellationToken.None)
            ?? throw new InvalidOperationException($"No tenant '{tenant}'.");
        return app.Services.GetRequiredService<ModelFetchTokens>().Issue(entry.Incarnation, model, lifetime ?? TimeSpan.FromHours(1)).Token;
    }
}
