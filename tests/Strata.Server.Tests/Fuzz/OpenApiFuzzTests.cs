using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Storage;
using Strata.Server.Tests.Problems;
using Strata.Server.Tests.Support;
using Xunit.Abstractions;

namespace Strata.Server.Tests.Fuzz;

/// <summary>
/// The app for the fuzzer: on Kestrel, whose body limit and request-line parsing are part of what is fuzzed,
/// and with no request rate limit, so that its requests reach the routes rather than a 429.
/// </summary>
public sealed class FuzzApp : StrataApp
{
    public FuzzApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" }) => OnKestrel = true;
}

/// <summary>
/// Issue 15, item 7: a standing fuzz test. It reads the server's own OpenAPI document and, for every
/// operation under <c>/v1</c>, sends requests built from the operation's schema and then broken: wrong
/// types, extremes, missing and unknown fields, invalid UTF-8, lone surrogates and NUL, oversize and
/// non-JSON bodies, wrong content types, odd path segments and query strings. It asserts that no answer
/// is a 5xx, that every 4xx is a problem+json naming its status, and that a refused request leaves the
/// store's rows as they were. Seeded (the same requests every run) and bounded (<see cref="Requests"/>).
/// To look into a run: <c>FUZZ_TRACE=/v1/jobs/training</c> prints every request whose URL starts so, with
/// its body and answer; <c>FUZZ_DOCUMENT=/tmp/openapi.json</c> saves the OpenAPI document it read.
/// </summary>
public sealed class OpenApiFuzzTests(FuzzApp app, ITestOutputHelper output) : IClassFixture<FuzzApp>
{
    /// <summary>The seed of every run, unless <c>FUZZ_SEED</c> names another (to explore; a finding becomes a test of its own).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), out var seed) ? seed : 15;
    private const int Requests = 2000;
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Every_operation_answers_malformed_requests_with_a_4xx_problem_and_no_stored_change()
    {
        var (tenant, member) = await app.TenantClientAsync("fuzz");
        using var _ = member;
        using var admin = app.AdminClient();
        using var anonymous = app.AnonymousClient();
        var document = JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json")).RootElement;
        var operations = Operation.ReadAll(document).Where(o => o.Path.StartsWith("/v1/", StringComparison.Ordinal)).ToList();
        // Operations that take a body have more to break: they get three turns to the others' one.
        var turns = operations.SelectMany(o => Enumerable.Repeat(o, o.BodySchema is null ? 1 : 3)).ToList();
        Assert.True(operations.Count >= 30, $"the OpenAPI document lists only {operations.Count} operations under /v1");

        if (Environment.GetEnvironmentVariable("FUZZ_DOCUMENT") is { } documentPath) await File.WriteAllTextAsync(documentPath, document.GetRawText());
        var random = new Random(Seed);
        var generator = new RequestGenerator(random, document);
        var byClass = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Requests; i++)
        {
            var operation = turns[i % turns.Count];
            var request = generator.Next(operation);
            var asAdmin = operation.IsAdminRoute ^ (random.NextDouble() < 0.1);
            var before = await CountRowsAsync();
            using var message = request.ToMessage(member.BaseAddress!);
            using var response = await (asAdmin ? admin : member).SendAsync(message);
            var status = (int)response.StatusCode;
            var statusClass = $"{status / 100}xx";
            byClass[statusClass] = byClass.GetValueOrDefault(statusClass) + 1;
            var body = await response.Content.ReadAsStringAsync();
            var what = $"{request.Method} {request.Url} [{request.Kind}] as {(asAdmin ? "admin" : "member")} -> {status}";
            if (request.Method == "DELETE" && operation.Path == "/v1/tenants/{id}" && status is >= 200 and < 300)
            {
                // A tenant's deletion ends in the background: wait for it, or a later request is charged with its change to the store.
                await app.WaitForTenantGoneAsync(request.Url.Split('?')[0].Split('/')[^1]);
            }
            if (Environment.GetEnvironmentVariable("FUZZ_TRACE") is { } trace && request.Url.StartsWith(trace, StringComparison.Ordinal))
            {
                output.WriteLine($"{what}: {Encoding.Latin1.GetString(request.Body ?? [])[..Math.Min(400, request.Body?.Length ?? 0)]} => {Shorten(body)}");
            }
            if (status >= 500)
            {
                failures.Add($"{what}: {Shorten(body)}");
            }
            else if (status == 400 && body.Length == 0 && request.Url.Split('?')[0].Contains("%00", StringComparison.Ordinal))
            {
                // Kestrel refuses a path that decodes to NUL while it parses the request line, before the
                // app runs, and answers 400 without a body (MalformedInputTests says so too).
                byClass["400 from Kestrel (NUL in the path)"] = byClass.GetValueOrDefault("400 from Kestrel (NUL in the path)") + 1;
            }
            else if (status >= 400)
            {
                if (ProblemError(response, body, status) is { } error) failures.Add($"{what}: {error}");
                var after = await CountRowsAsync();
                if (!after.SequenceEqual(before)) failures.Add($"{what}: refused, yet the store changed: {Describe(before)} -> {Describe(after)}");
            }
        }
        clock.Stop();

        var counts = string.Join(", ", byClass.Select(c => $"{c.Key}: {c.Value}"));
        output.WriteLine($"Fuzzed {Requests} requests over {operations.Count} operations (seed {Seed}, tenant {tenant}) in {clock.Elapsed.TotalSeconds:F1} s: {counts}");
        Assert.True(failures.Count == 0,
            $"{failures.Count} of {Requests} fuzzed requests went wrong ({counts}); the first ones:\n" + string.Join('\n', failures.Take(25)));
        Assert.True(byClass.GetValueOrDefault("4xx") > Requests / 2, $"the fuzzer's requests were mostly accepted ({counts}): it is not fuzzing");
    }

    /// <summary>Why an answer is not a problem of its status, or null when it is.</summary>
    private static readonly string[] DotNetWords = [".NET", "System.", "Strata.Contracts", "Nullable`", "reader options"];

    private static string? ProblemError(HttpResponseMessage response, string body, int status)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return $"a {status} that is not problem+json ({response.Content.Headers.ContentType}): {Shorten(body)}";
        }
        try
        {
            var problem = JsonDocument.Parse(body).RootElement;
            if (!problem.TryGetProperty("status", out var s) || s.GetInt32() != status) return $"the problem's status is not {status}: {Shorten(body)}";
            if (!problem.TryGetProperty("type", out var t) || string.IsNullOrEmpty(t.GetString())) return $"the problem has no type: {Shorten(body)}";
            // A problem speaks the API's language: fields and JSON kinds, never the server's .NET types.
            if (DotNetWords.FirstOrDefault(word => body.Contains(word, StringComparison.Ordinal)) is { } word) return $"the problem names .NET ('{word}'): {Shorten(body)}";
            return null;
        }
        catch (JsonException e)
        {
            return $"the problem is not JSON ({e.Message}): {Shorten(body)}";
        }
    }

    /// <summary>
    /// Rows of every table a request may add to (not those the scheduler writes on its own), and a digest of
    /// the tenants' rows, which a refused quota change must leave as they were.
    /// </summary>
    private async Task<long[]> CountRowsAsync()
    {
        await using var db = app.Services.GetRequiredService<Store>().CreateContext();
        var tenants = JsonSerializer.Serialize(await db.Tenants.AsNoTracking().OrderBy(t => t.Id).ToListAsync());
        return
        [
            StringComparer.Ordinal.GetHashCode(tenants),
            await db.Tenants.LongCountAsync(), await db.Jobs.LongCountAsync(), await db.Artifacts.LongCountAsync(),
            await db.Metrics.LongCountAsync(), await db.MetricSeries.LongCountAsync(), await db.Models.LongCountAsync(),
            await db.ModelVersions.LongCountAsync(), await db.ModelAliases.LongCountAsync(), await db.Deployments.LongCountAsync(),
        ];
    }

    private static readonly string[] Tables = ["tenants-digest", "tenants", "jobs", "artifacts", "metrics", "series", "models", "versions", "aliases", "deployments"];

    private static string Describe(long[] counts) => string.Join(" ", Tables.Zip(counts, (n, c) => $"{n}={c}"));

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "...";

    /// <summary>One operation of the OpenAPI document.</summary>
    private sealed record Operation(string Method, string Path, IReadOnlyList<(string Name, string In, JsonElement Schema)> Parameters, JsonElement? BodySchema)
    {
        /// <summary>Routes only an admin may call: the rest are called as a tenant member (and 10% the other way round).</summary>
        public bool IsAdminRoute => Path == "/v1/tenants" || Path == "/v1/tenants/{id}" || Path.EndsWith("/quota", StringComparison.Ordinal) && Path.StartsWith("/v1/tenants", StringComparison.Ordinal)
            || Path.StartsWith("/v1/admin", StringComparison.Ordinal);

        public static IEnumerable<Operation> ReadAll(JsonElement document)
        {
            foreach (var path in document.GetProperty("paths").EnumerateObject())
            {
                foreach (var operation in path.Value.EnumerateObject())
                {
                    if (operation.Name is "parameters" or "summary" or "description") continue;
                    var parameters = new List<(string, string, JsonElement)>();
                    if (operation.Value.TryGetProperty("parameters", out var list))
                    {
                        foreach (var p in list.EnumerateArray())
                        {
                            parameters.Add((p.GetProperty("name").GetString()!, p.GetProperty("in").GetString()!,
                                p.TryGetProperty("schema", out var s) ? s : default));
                        }
                    }
                    JsonElement? body = null;
                    if (operation.Value.TryGetProperty("requestBody", out var requestBody) && requestBody.TryGetProperty("content", out var content))
                    {
                        foreach (var media in content.EnumerateObject())
                        {
                            if (media.Value.TryGetProperty("schema", out var schema)) body = schema;
                            break;
                        }
                    }
                    yield return new Operation(operation.Name.ToUpperInvariant(), path.Name, parameters, body);
                }
            }
        }
    }

    /// <summary>A request to send: the bytes are exact, so that invalid UTF-8 reaches the server as it is.</summary>
    private sealed record FuzzRequest(string Method, string Url, string Kind, byte[]? Body, string? ContentType, bool Chunked)
    {
        public HttpRequestMessage ToMessage(Uri server)
        {
            var message = new HttpRequestMessage(new HttpMethod(Method), new Uri(server, Url));
            if (Body is not null)
            {
                HttpContent content = Chunked ? new ChunkedContent(Body) : new ByteArrayContent(Body);
                content.Headers.ContentType = ContentType is null ? null : MediaTypeHeaderValue.Parse(ContentType);
                message.Content = content;
                // As curl does for a large body: a server that refuses it (by its length, or before reading it: 401, 404)
                // answers before it is sent, rather than closing a connection the client is still writing to (a broken
                // pipe on a loaded machine). Routes' limits start at 64 KiB, so bodies above that ask first.
                message.Headers.ExpectContinue = Body.Length > 64 * 1024;
            }
            return message;
        }
    }

    /// <summary>Builds requests from an operation's schema, then breaks them one way or another.</summary>
    private sealed class RequestGenerator(Random random, JsonElement document)
    {
        // Stand-ins replaced in the serialized body by bytes no serializer writes.
        private const string RawFf = "\uE000RAWFF\uE000";
        private const string Overlong = "\uE000OVERLONG\uE000";

        private static readonly string[] PathValues =
        [
            "fuzz", "a", "churn", "1", "0", "-1", "latest", "99999999999999999999", new string('a', 300), "%00", "a%00b", "%ff", "%c0%80",
            "%ed%a0%80", "..", "%2e%2e", "a%2Fb", "%20", "%e2%80%8f", "%C3%A9t%C3%A9", "x.y", "_", "A", "%0a", "%7B%7D", "job-00000000",
        ];

        private static readonly string[] QueryValues =
        [
            "", "0", "-1", "1", "201", "10001", "99999999999999999999", "1.5", "1e3", "abc", "%00", "%ff", "%ed%a0%80", "true", "null",
            new string('z', 3000), "2026-01-01T00:00:00Z", "0001-01-01", "9999-12-31T23:59:59Z", "%0d%0a", "a%26b%3Dc", "%2e%2e%2f",
        ];

        private static readonly string[] NotJson =
        [
            "{", "{\"a\":", "}", "[", "nul", "'x'", "{\"a\" 1}", "{a: 1}", "1e999", "\"\\u12\"", "{\"a\": 1,}", "/* c */ {}", "\uFEFF{}",
        ];

        public FuzzRequest Next(Operation operation)
        {
            var (url, pathKind) = BuildUrl(operation);
            var hasBody = operation.BodySchema is not null || operation.Method is "POST" or "PUT" or "PATCH";
            if (!hasBody)
            {
                // A body where none is expected is read by nobody, but must not break anything either.
                return random.Next(10) == 0
                    ? new FuzzRequest(operation.Method, url, pathKind + "+stray-body", Encoding.UTF8.GetBytes("{\"x\": 1}"), "application/json", false)
                    : new FuzzRequest(operation.Method, url, pathKind, null, null, false);
            }
            var schema = operation.BodySchema is { } s ? Resolve(s) : default;
            var kind = random.Next(13);
            JsonElement? plausible = schema.ValueKind == JsonValueKind.Undefined ? null : Plausible(schema, 0);
            return kind switch
            {
                0 => Json(operation, url, "plausible", plausible),
                1 => Json(operation, url, "wrong-root-type", Pick(WrongRootTypes())),
                2 => Json(operation, url, "wrong-field-type", Mutate(plausible, (_, value) => Pick(WrongTypesFor(value)))),
                3 => Json(operation, url, "extreme", Mutate(plausible, (_, value) => Pick(ExtremesFor(value)))),
                4 => Json(operation, url, "missing-field", Remove(plausible)),
                5 => Json(operation, url, "unknown-field", AddUnknown(plausible)),
                6 or 7 => Encoded(operation, url, plausible),
                8 => Raw(operation, url, "not-json", Encoding.UTF8.GetBytes(Pick(NotJson)), "application/json"),
                9 => Raw(operation, url, "deep", Encoding.UTF8.GetBytes(new string('[', 200) + new string(']', 200)), "application/json"),
                10 => Raw(operation, url, "wrong-content-type", Serialize(plausible), random.Next(2) == 0 ? "text/plain" : null),
                11 => Oversize(operation, url),
                _ => Raw(operation, url, "empty", [], "application/json"),
            };
        }

        private (string Url, string Kind) BuildUrl(Operation operation)
        {
            var path = operation.Path;
            var kind = "path";
            foreach (var (name, where, _) in operation.Parameters.Where(p => p.In == "path"))
            {
                path = path.Replace("{" + name + "}", Pick(PathValues), StringComparison.Ordinal);
            }
            var query = new List<string>();
            foreach (var (name, where, _) in operation.Parameters.Where(p => p.In == "query"))
            {
                if (random.Next(3) == 0) continue;
                query.Add($"{name}={Pick(QueryValues)}");
                if (random.Next(8) == 0) query.Add($"{name}={Pick(QueryValues)}");
                kind = "query";
            }
            if (random.Next(6) == 0)
            {
                query.Add($"unknown_{random.Next(100)}={Pick(QueryValues)}");
                kind = "query";
            }
            return (query.Count == 0 ? path : path + "?" + string.Join('&', query), kind);
        }

        private FuzzRequest Json(Operation operation, string url, string kind, JsonElement? body) =>
            Raw(operation, url, kind, Serialize(body), "application/json");

        private FuzzRequest Raw(Operation operation, string url, string kind, byte[] body, string? contentType) =>
            new(operation.Method, url, kind, body, contentType, random.Next(4) == 0);

        private FuzzRequest Oversize(Operation operation, string url)
        {
            var size = random.Next(2) == 0 ? 2 * MiB : 17 * MiB;
            var body = Encoding.UTF8.GetBytes("{\"name\": \"" + new string('a', size) + "\"}");
            return new FuzzRequest(operation.Method, url, $"oversize-{size / MiB}MiB", body, "application/json", random.Next(2) == 0);
        }

        /// <summary>A plausible body with one string (a value or a property name) replaced by text that is not valid.</summary>
        private FuzzRequest Encoded(Operation operation, string url, JsonElement? plausible)
        {
            var bad = Pick(["\\ud800", "x\\udc00y", "\\ud800\\ud800", "a\\u0000b", "\\u0000", "\\u001b[31m", RawFf, Overlong, "\\uFFFF"]);
            const string Marker = "\uE000MARK\uE000";
            var inName = random.Next(4) == 0;
            // One string of the body, at any depth (a hyperparameter's value, a column of an input schema), the
            // others left plausible so that the request gets past the serializer; or a property name.
            var root = plausible ?? Parse("{}");
            var strings = CountStrings(root);
            var body = inName || strings == 0 ? AddField(plausible, Marker, JsonSerializer.SerializeToElement(1)) : ReplaceString(root, Marker, random.Next(strings), out _);
            var text = Encoding.UTF8.GetString(Serialize(body)).Replace(JsonSerializer.Serialize(Marker)[1..^1], bad, StringComparison.Ordinal);
            var bytes = new List<byte>();
            var pieces = text.Split(RawFf);
            for (var i = 0; i < pieces.Length; i++)
            {
                if (i > 0) bytes.Add(0xFF);
                var parts = pieces[i].Split(Overlong);
                for (var j = 0; j < parts.Length; j++)
                {
                    if (j > 0) bytes.AddRange([0xC0, 0x80]);
                    bytes.AddRange(Encoding.UTF8.GetBytes(parts[j]));
                }
            }
            return new FuzzRequest(operation.Method, url, inName ? "bad-encoding-name" : "bad-encoding", bytes.ToArray(), "application/json", random.Next(4) == 0);
        }

        private static int CountStrings(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => 1,
            JsonValueKind.Array => value.EnumerateArray().Sum(CountStrings),
            JsonValueKind.Object => value.EnumerateObject().Sum(p => CountStrings(p.Value)),
            _ => 0,
        };

        /// <summary>The value with its <paramref name="index"/>-th string (depth first) replaced; <paramref name="seen"/> counts the strings passed.</summary>
        private static JsonElement ReplaceString(JsonElement value, string replacement, int index, out int seen)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    seen = 1;
                    return index == 0 ? JsonSerializer.SerializeToElement(replacement) : value;
                case JsonValueKind.Array:
                    var items = new List<JsonElement>();
                    seen = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        items.Add(ReplaceString(item, replacement, index - seen, out var inItem));
                        seen += inItem;
                    }
                    return JsonSerializer.SerializeToElement(items);
                case JsonValueKind.Object:
                    var properties = new List<(string, JsonElement)>();
                    seen = 0;
                    foreach (var property in value.EnumerateObject())
                    {
                        properties.Add((property.Name, ReplaceString(property.Value, replacement, index - seen, out var inProperty)));
                        seen += inProperty;
                    }
                    return Rebuild(properties);
                default:
                    seen = 0;
                    return value;
            }
        }

        private static byte[] Serialize(JsonElement? body) => body is { } b ? JsonSerializer.SerializeToUtf8Bytes(b) : Encoding.UTF8.GetBytes("{}");

        private T Pick<T>(IReadOnlyList<T> values) => values[random.Next(values.Count)];

        private static readonly JsonElement[] RootTypes = [.. new[] { "42", "\"text\"", "true", "null", "[]", "[{}]", "{}", "-0.0" }.Select(Parse)];
        private static readonly JsonElement[] AnyTypes = [.. new[] { "1", "\"1\"", "true", "null", "[]", "{}", "[1, \"a\"]", "{\"a\": {}}" }.Select(Parse)];
        private static readonly string[] Variants = ["oneOf", "anyOf", "allOf"];

        private static JsonElement[] WrongRootTypes() => RootTypes;

        private static JsonElement[] WrongTypesFor(JsonElement value) => [.. AnyTypes.Where(v => v.ValueKind != value.ValueKind)];

        private static JsonElement[] ExtremesFor(JsonElement value) => ((string[])(value.ValueKind switch
        {
            JsonValueKind.Number => ["0", "-1", "-0", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "1e308", "-1e308", "1e-320", "0.5", "123456789012345678901234567890"],
            JsonValueKind.String => ["\"\"", "\" \"", JsonSerializer.Serialize(new string('x', 70_000)), "\"..\"", "\"/etc/passwd\"", "\"a/../../b\"", "\"\\n\"", "\"\\t\"", "\"\\u00e9\\u4e2d\\ud83d\\ude00\"", "\"0001-01-01T00:00:00Z\"", "\"9999-12-31T23:59:59Z\"", "\"-1\"", "\"1e999\"", "\"NaN\""],
            JsonValueKind.Array => ["[]", "[" + string.Join(',', Enumerable.Repeat("1", 5000)) + "]", "[null]", "[[[]]]"],
            JsonValueKind.Object => ["{}", "{\"\": 1}", "{" + string.Join(',', Enumerable.Range(0, 500).Select(i => $"\"k{i}\": {i}")) + "}"],
            _ => ["0", "\"\"", "null"],
        })).Select(Parse).ToArray();

        private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

        /// <summary>The body with one value (anywhere, at most a few levels down) replaced.</summary>
        private JsonElement? Mutate(JsonElement? body, Func<string, JsonElement, JsonElement> change)
        {
            if (body is not { ValueKind: JsonValueKind.Object } root || !root.EnumerateObject().Any())
            {
                return body is { } b ? change("", b) : change("", Parse("{}"));
            }
            var properties = root.EnumerateObject().ToList();
            var target = Pick(properties);
            var replaced = target.Value.ValueKind == JsonValueKind.Object && random.Next(2) == 0
                ? Mutate(target.Value, change)!.Value
                : change(target.Name, target.Value);
            return Rebuild(properties.Select(p => p.Name == target.Name ? (p.Name, replaced) : (p.Name, p.Value)));
        }

        private JsonElement? Remove(JsonElement? body)
        {
            if (body is not { ValueKind: JsonValueKind.Object } root || !root.EnumerateObject().Any()) return Parse("{}");
            var properties = root.EnumerateObject().ToList();
            if (random.Next(3) == 0) return Parse("{}");
            var gone = Pick(properties).Name;
            return Rebuild(properties.Where(p => p.Name != gone).Select(p => (p.Name, p.Value)));
        }

        private JsonElement? AddUnknown(JsonElement? body) => AddField(body, Pick(["unknown_field", "Name", "NAME", "tenant_id", "id", "__proto__", "$type"]), Parse("1"));

        private static JsonElement? AddField(JsonElement? body, string name, JsonElement value)
        {
            var properties = body is { ValueKind: JsonValueKind.Object } root ? root.EnumerateObject().Select(p => (p.Name, p.Value)).ToList() : [];
            properties.RemoveAll(p => p.Name == name);
            properties.Add((name, value));
            return Rebuild(properties);
        }

        private static JsonElement Rebuild(IEnumerable<(string Name, JsonElement Value)> properties)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                foreach (var (name, value) in properties)
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }
                writer.WriteEndObject();
            }
            return JsonDocument.Parse(stream.ToArray()).RootElement.Clone();
        }

        /// <summary>A value the schema describes, with names and numbers a route might accept.</summary>
        private JsonElement Plausible(JsonElement schema, int depth)
        {
            schema = Resolve(schema);
            if (depth > 4) return Parse("null");
            var type = TypeOf(schema);
            switch (type)
            {
                case "object":
                    var properties = new List<(string, JsonElement)>();
                    if (schema.TryGetProperty("properties", out var props))
                    {
                        foreach (var p in props.EnumerateObject()) properties.Add((p.Name, Plausible(p.Value, depth + 1)));
                    }
                    else
                    {
                        // A map (hyperparameters, env_vars): one entry, of the values' schema or of any JSON.
                        var entries = schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.Object ? extra : default;
                        properties.Add(("fuzz_key", entries.ValueKind == JsonValueKind.Object ? Plausible(entries, depth + 1) : Plausible(default, depth + 1)));
                    }
                    return Rebuild(properties);
                case "array":
                    return schema.TryGetProperty("items", out var items)
                        ? Parse("[" + Plausible(items, depth + 1).GetRawText() + "]")
                        : Parse("[]");
                case "integer":
                    return Parse(Pick(["1", "2", "10"]));
                case "number":
                    return Parse(Pick(["1", "0.5", "2"]));
                case "boolean":
                    return Parse(random.Next(2) == 0 ? "true" : "false");
                case "string":
                    if (schema.TryGetProperty("enum", out var values) && values.GetArrayLength() > 0) return values[random.Next(values.GetArrayLength())].Clone();
                    if (schema.TryGetProperty("format", out var format) && format.GetString() == "date-time") return Parse("\"2026-12-07T12:00:00Z\"");
                    return Parse(Pick(["\"fuzz\"", "\"fuzz-1\"", "\"churn@1\"", "\"out/model.zip\"", "\"python3 train.py\""]));
                default:
                    // Any JSON (a hyperparameter's value, an input schema): mostly text, where bad encodings go.
                    return Parse(Pick(["\"fuzz\"", "\"0.1\"", "1", "{\"fuzz\": \"fuzz\"}", "[\"fuzz\"]"]));
            }
        }

        private JsonElement Resolve(JsonElement schema)
        {
            for (var i = 0; i < 10; i++)
            {
                if (schema.ValueKind != JsonValueKind.Object) return schema;
                if (schema.TryGetProperty("$ref", out var reference))
                {
                    var node = document;
                    foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/')) node = node.GetProperty(part);
                    schema = node;
                    continue;
                }
                var variant = Variants.Select(k => schema.TryGetProperty(k, out var list) ? list : default)
                    .FirstOrDefault(l => l.ValueKind == JsonValueKind.Array);
                if (variant.ValueKind == JsonValueKind.Array)
                {
                    var options = variant.EnumerateArray().Where(o => TypeOf(o) != "null").ToList();
                    if (options.Count == 0) return schema;
                    schema = options[0];
                    continue;
                }
                return schema;
            }
            return schema;
        }

        private static string? TypeOf(JsonElement schema)
        {
            if (schema.ValueKind != JsonValueKind.Object) return null;
            if (!schema.TryGetProperty("type", out var type)) return schema.TryGetProperty("properties", out _) ? "object" : null;
            if (type.ValueKind == JsonValueKind.String) return type.GetString();
            return type.EnumerateArray().Select(t => t.GetString()).FirstOrDefault(t => t != "null") ?? "null";
        }
    }
}
