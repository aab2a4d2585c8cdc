using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Server.Tests.Support;

/// <summary>Raw HTTP helpers: exact status codes, content types and problem+json bodies.</summary>
public static class Http
{
    /// <summary>The API's JSON conventions (snake_case), for request bodies built from typed specs.</summary>
    public static JsonSerializerOptions Json => StrataJson.Options;

    /// <summary>A JSON body from raw text, so that malformed and odd bodies can be sent as they are.</summary>
    public static StringContent JsonText(string json, string mediaType = "application/json") =>
        new(json, Encoding.UTF8, mediaType);

    public static async Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string url, string json, string mediaType = "application/json") =>
        await client.PostAsync(url, JsonText(json, mediaType));

    /// <summary>Asserts the status and returns the JSON body (an empty object for an empty body).</summary>
    public static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status,
            $"Expected {status} from {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? JsonDocument.Parse("{}").RootElement : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Asserts an RFC 9457 answer: the status, <c>application/problem+json</c>, the stable <paramref name="type"/>,
    /// the same status in the body and a detail a person can act on. Returns the problem.
    /// </summary>
    public static async Task<JsonElement> ExpectProblemAsync(HttpResponseMessage response, int status, string type)
    {
        var problem = await ExpectAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"The problem has no detail: {problem}");
        return problem;
    }

    /// <summary>Asserts a 400 validation problem whose <c>errors</c> name exactly <paramref name="fields"/>.</summary>
    public static async Task<JsonElement> ExpectValidationAsync(HttpResponseMessage response, params string[] fields)
    {
        var problem = await ExpectProblemAsync(response, 400, ProblemTypes.Validation);
        var named = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(fields.Order(StringComparer.Ordinal).ToArray(), named);
        foreach (var error in problem.GetProperty("errors").EnumerateObject())
        {
            Assert.NotEmpty(error.Value.EnumerateArray());
        }
        return problem;
    }

    /// <summary>Sends a request with an explicit Authorization header value (or none).</summary>
    public static async Task<HttpResponseMessage> GetWithAuthorizationAsync(this HttpClient client, string url, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return await client.SendAsync(request);
    }

    /// <summary>The target of a <c>Link: &lt;...&gt;; rel="next"</c> header, or null when there is no next page.</summary>
    public static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var values)) return null;
        foreach (var value in values.SelectMany(v => v.Split(',')))
        {
            var parts = value.Split(';', StringSplitOptions.TrimEntries);
            if (parts.Length >= 2 && parts[0].StartsWith('<') && parts[0].EndsWith('>') && parts.Skip(1).Contains("rel=\"next\""))
            {
                return parts[0][1..^1];
            }
        }
        return null;
    }

    public static MediaTypeHeaderValue? ContentType(HttpResponseMessage response) => response.Content.Headers.ContentType;
}
