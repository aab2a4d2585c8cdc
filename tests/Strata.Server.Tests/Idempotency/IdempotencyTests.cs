using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Strata.Contracts;
using Strata.Server.Idempotency;
using Strata.Server.Retention;
using Strata.Server.Storage;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Idempotency;

/// <summary>Requests with an <c>Idempotency-Key</c>, and their answers.</summary>
internal static class IdempotentRequests
{
    /// <summary>Status, Location and body of one answer.</summary>
    internal sealed record Answer(int Status, string? Location, string Body, string? ProblemType)
    {
        public string Id => JsonDocument.Parse(Body).RootElement.GetProperty("id").GetString()!;
    }

    internal static async Task<Answer> PostAsync(HttpClient client, string url, HttpContent content, params string[] keys)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        foreach (var key in keys) request.Headers.TryAddWithoutValidation(IdempotencyFilter.HeaderName, key);
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var type = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
            ? JsonDocument.Parse(body).RootElement.GetProperty("type").GetString()
            : null;
        return new Answer((int)response.StatusCode, response.Headers.Location?.OriginalString, body, type);
    }
}

/// <summary>The <c>Idempotency-Key</c> header on job submissions and uploads (docs/idempotency.md), on every store.</summary>
public abstract class IdempotencyTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    private const string Spec = """{"name":"train","entrypoint":"true","compute":{"cpu_cores":1,"memory_gb":1}}""";

    private static Task<IdempotentRequests.Answer> SubmitAsync(HttpClient client, string spec, params string[] keys) =>
        IdempotentRequests.PostAsync(client, "/v1/jobs/training", Http.JsonText(spec), keys);

    private static async Task<string[]> JobIdsAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/v1/jobs/training?limit=100");
        return [.. (await Http.ExpectAsync(response, 200)).EnumerateArray().Select(j => j.GetProperty("id").GetString()!)];
    }

    [SkippableFact]
    public async Task The_same_key_and_body_answer_the_first_response_again_and_create_one_job()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("replay");
        using var _c = client;
        var key = Guid.NewGuid().ToString();

        var first = await SubmitAsync(client, Spec, key);
        var again = await SubmitAsync(client, Spec, key);
        var quoted = await SubmitAsync(client, Spec, $"\"{key}\"");

        Assert.Equal(201, first.Status);
        Assert.Equal($"/v1/jobs/training/{first.Id}", first.Location);
        Assert.Equal(first, again);
        Assert.Equal(first, quoted);
        Assert.Equal([first.Id], await JobIdsAsync(client));
    }

    [SkippableFact]
    public async Task The_same_key_with_another_body_is_a_422_and_creates_nothing()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("reused");
        using var _c = client;
        var key = Guid.NewGuid().ToString();
        var first = await SubmitAsync(client, Spec, key);

        var other = await SubmitAsync(client, Spec.Replace("\"train\"", "\"other\"", StringComparison.Ordinal), key);
        // The same JSON, spaced otherwise, is another body as received.
        var spaced = await SubmitAsync(client, Spec.Replace(",", ", ", StringComparison.Ordinal), key);

        Assert.Equal((422, ProblemTypes.IdempotencyKeyReused), (other.Status, other.ProblemType));
        Assert.Equal((422, ProblemTypes.IdempotencyKeyReused), (spaced.Status, spaced.ProblemType));
        Assert.Equal([first.Id], await JobIdsAsync(client));
    }

    [SkippableFact]
    public async Task Another_tenants_identical_key_is_another_key()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, a) = await app.TenantClientAsync("key-a");
        var (_, b) = await app.TenantClientAsync("key-b");
        using var _a = a;
        using var _b = b;
        var key = Guid.NewGuid().ToString();

        var fromA = await SubmitAsync(a, Spec, key);
        var fromB = await SubmitAsync(b, Spec, key);

        Assert.Equal((201, 201), (fromA.Status, fromB.Status));
        Assert.NotEqual(fromA.Id, fromB.Id);
        Assert.Equal([fromA.Id], await JobIdsAsync(a));
        Assert.Equal([fromB.Id], await JobIdsAsync(b));
    }

    [SkippableTheory]
    [InlineData("has space")]
    [InlineData("tab\there")]
    [InlineData("clé")]
    [InlineData("\"\"")]
    [InlineData("\"quoted \\\" escape\"")]
    public async Task A_key_that_is_not_1_to_255_visible_ASCII_characters_is_a_400_that_creates_nothing(string key)
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("badkey");
        using var _c = client;

        using var response = await SendWithKeysAsync(client, key);

        await Http.ExpectValidationAsync(response, IdempotencyFilter.HeaderName);
        Assert.Empty(await JobIdsAsync(client));
    }

    [SkippableFact]
    public async Task A_key_of_256_characters_or_two_keys_are_a_400_and_255_characters_are_a_key()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("longkey");
        using var _c = client;

        using (var tooLong = await SendWithKeysAsync(client, new string('k', 256))) await Http.ExpectValidationAsync(tooLong, IdempotencyFilter.HeaderName);
        using (var two = await SendWithKeysAsync(client, "one", "two")) await Http.ExpectValidationAsync(two, IdempotencyFilter.HeaderName);
        Assert.Empty(await JobIdsAsync(client));

        Assert.Equal(201, (await SubmitAsync(client, Spec, new string('~', 255))).Status);
    }

    private static async Task<HttpResponseMessage> SendWithKeysAsync(HttpClient client, params string[] keys)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs/training") { Content = Http.JsonText(Spec) };
        foreach (var key in keys) request.Headers.TryAddWithoutValidation(IdempotencyFilter.HeaderName, key);
        return await client.SendAsync(request);
    }

    [SkippableFact]
    public async Task A_refused_request_stores_nothing_so_its_corrected_retry_with_the_key_is_accepted()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("refused");
        using var _c = client;
        var key = Guid.NewGuid().ToString();

        var invalid = await SubmitAsync(client, """{"name":"train","entrypoint":"true","compute":{"cpu_cores":-1,"memory_gb":1}}""", key);
        var corrected = await SubmitAsync(client, Spec, key);

        Assert.Equal(400, invalid.Status);
        Assert.Equal(201, corrected.Status);
        Assert.Equal([corrected.Id], await JobIdsAsync(client));
    }

    [SkippableFact]
    public async Task The_OpenAPI_document_offers_the_header_on_the_three_routes_that_create()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        using var client = app.AnonymousClient();
        using var response = await client.GetAsync("/openapi/v1.json");
        var paths = (await Http.ExpectAsync(response, 200)).GetProperty("paths");

        foreach (var path in new[] { "/v1/jobs/training", "/v1/deployments", "/v1/artifacts" })
        {
            var parameters = paths.GetProperty(path).GetProperty("post").GetProperty("parameters").EnumerateArray();
            Assert.Contains(parameters, p => p.GetProperty("name").GetString() == IdempotencyFilter.HeaderName && p.GetProperty("in").GetString() == "header");
        }
    }

    [SkippableFact]
    public async Task Fifty_concurrent_submissions_with_one_key_create_exactly_one_job()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("fifty");
        using var _c = client;
        var key = Guid.NewGuid().ToString();

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => SubmitAsync(client, Spec, key))));

        var created = answers.Where(a => a.Status == 201).ToList();
        Assert.NotEmpty(created);
        Assert.All(created, a => Assert.Equal(created[0], a));
        Assert.All(answers.Where(a => a.Status != 201), a => Assert.Equal((409, ProblemTypes.IdempotencyKeyInFlight), (a.Status, a.ProblemType)));
        Assert.Equal([created[0].Id], await JobIdsAsync(client));
        // Once the first has been answered, every repeat is the replay.
        Assert.Equal(created[0], await SubmitAsync(client, Spec, key));
    }

    [SkippableFact]
    public async Task An_expired_key_is_forgotten_and_swept()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("expired");
        using var _c = client;
        var key = Guid.NewGuid().ToString();
        var first = await SubmitAsync(client, Spec, key);
        using (var cancelled = await client.DeleteAsync(first.Location)) Assert.Equal(204, (int)cancelled.StatusCode);
        var store = app.Services.GetRequiredService<Store>();
        await using (var db = store.CreateContext())
        {
            var stored = await db.IdempotencyKeys.SingleAsync(k => k.TenantId == tenant);
            Assert.Equal(first.Body, stored.ResponseJson);
            Assert.InRange(stored.ExpiresAtUnixMs - stored.CreatedAt.ToUnixTimeMilliseconds(), 24 * 3600_000L, 24 * 3600_000L);
            // 24 hours on.
            await db.IdempotencyKeys.Where(k => k.TenantId == tenant).ExecuteUpdateAsync(k => k.SetProperty(r => r.ExpiresAtUnixMs, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds()));
        }

        await app.Services.GetServices<IDiskSweep>().OfType<IdempotencyKeySweep>().Single().SweepAsync(CancellationToken.None);

        await using (var db = store.CreateContext())
        {
            Assert.False(await db.IdempotencyKeys.AnyAsync(k => k.TenantId == tenant));
        }
        var second = await SubmitAsync(client, Spec, key);
        Assert.Equal(201, second.Status);
        Assert.NotEqual(first.Id, second.Id);
    }

    [SkippableFact]
    public async Task An_upload_with_a_key_is_replayed_and_another_upload_with_it_is_a_422()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (_, client) = await app.TenantClientAsync("uploads");
        using var _c = client;
        var key = Guid.NewGuid().ToString();
        var bytes = Encoding.UTF8.GetBytes("tenure,churned\n3,1\n");
        HttpContent Content(byte[] body)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return content;
        }

        var first = await IdempotentRequests.PostAsync(client, "/v1/artifacts?name=churn.csv", Content(bytes), key);
        var again = await IdempotentRequests.PostAsync(client, "/v1/artifacts?name=churn.csv", Content(bytes), key);
        var otherBytes = await IdempotentRequests.PostAsync(client, "/v1/artifacts?name=churn.csv", Content([.. bytes, .. "4,0\n"u8.ToArray()]), key);
        var otherName = await IdempotentRequests.PostAsync(client, "/v1/artifacts?name=other.csv", Content(bytes), key);

        Assert.Equal(201, first.Status);
        Assert.Equal($"/v1/artifacts/{first.Id}", first.Location);
        Assert.Equal(first, again);
        Assert.Equal((422, ProblemTypes.IdempotencyKeyReused), (otherBytes.Status, otherBytes.ProblemType));
        Assert.Equal((422, ProblemTypes.IdempotencyKeyReused), (otherName.Status, otherName.ProblemType));
        using var list = await client.GetAsync("/v1/artifacts");
        Assert.Equal(first.Id, Assert.Single((await Http.ExpectAsync(list, 200)).EnumerateArray()).GetProperty("id").GetString());
    }
}

public sealed class SqliteIdempotencyTests(SqliteApp app) : IdempotencyTests<SqliteApp>(app);

public sealed class PostgresIdempotencyTests(PostgresApp app) : IdempotencyTests<PostgresApp>(app);

/// <summary>The header's text rule, where an HTTP client would not send the value.</summary>
public sealed class IdempotencyKeyTextTests
{
    [Fact]
    public void An_empty_key_is_no_key_of_the_header_and_a_plain_or_quoted_token_is()
    {
        // An HTTP client drops an empty header on its way, so the rule is checked here.
        Assert.Null(IdempotencyFilter.Parse(new StringValues("")));
        Assert.Null(IdempotencyFilter.Parse(new StringValues("\"\"")));
        Assert.Equal("abc", IdempotencyFilter.Parse(new StringValues("abc")));
        Assert.Equal("abc", IdempotencyFilter.Parse(new StringValues("\"abc\"")));
    }
}
