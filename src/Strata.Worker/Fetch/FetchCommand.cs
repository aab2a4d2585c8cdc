using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Strata.Worker.Fetch;

/// <summary>
/// <c>strata-worker fetch</c>: downloads a model version's file and input schema from the API into a folder that
/// <c>strata-worker serve --model &lt;folder&gt;</c> reads, as a deployment's init container does (docs/kubernetes.md,
/// "Model delivery"). The file arrives under a temporary name and is renamed into place only once its sha256 is the
/// one the API gives as the ETag, so the folder never holds a partial or corrupt model. A folder that already holds
/// the version's file is left as it is (the API answers 304 to its sha256). The version's <c>input_schema</c> becomes
/// <c>schema.json</c> beside the file, which serve checks requests against as a local replica does. An API that
/// cannot be reached or answers 5xx or 429 is asked again with backoff, for a bounded time: it may be starting.
/// Plain <see cref="HttpClient"/>, not the SDK: the worker depends on Core alone and stays Native-AOT compatible
/// (docs/architecture.md).
/// </summary>
internal sealed class FetchCommand(FetchOptions options, HttpMessageHandler handler, TimeProvider time, TextWriter output, TextWriter error)
{
    /// <summary>The file names <c>serve</c> looks for in a folder, by the extension of the registry's file.</summary>
    private static readonly string[] ModelFileNames = ["model.zip", "model.onnx"];
    /// <summary>The input schema's file name, which serve reads beside the model when no <c>--schema</c> is given.</summary>
    private const string SchemaFileName = "schema.json";
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var options = FetchOptions.Parse(args, Environment.GetEnvironmentVariable, out var problem);
        if (options is null)
        {
            await error.WriteLineAsync($"error: {problem}\n{FetchOptions.Usage}");
            return ExitCodes.Usage;
        }
        using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        return await new FetchCommand(options, handler, TimeProvider.System, output, error).RunAsync(CancellationToken.None);
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await FetchAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The network's IOExceptions are retried inside; one that gets here is the output folder's (full, read-only).
            await error.WriteLineAsync($"error: cannot write the model to {options.OutDirectory}: {e.Message}");
            return ExitCodes.FetchCannotWrite;
        }
    }

    private async Task<int> FetchAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.OutDirectory);
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(60) };
        // The version first, then the file of the number it resolved to, never of the alias again: an alias moved
        // between the two requests would otherwise leave one version's file beside another version's schema.
        var version = await WithRetriesAsync(() => TryVersionAsync(client, cancellationToken), cancellationToken);
        if (version.Result is not { } resolved) return version.ExitCode!.Value;
        var file = await WithRetriesAsync(() => TryFileAsync(client, resolved.Number, cancellationToken), cancellationToken);
        if (file.Result is null) return file.ExitCode!.Value;
        await WriteSchemaAsync(resolved, cancellationToken);
        return ExitCodes.Done;
    }

    /// <summary>
    /// Makes one request until it comes to something (a result, or an exit code either way), asking again with backoff
    /// while it says to, for <see cref="FetchOptions.RetryFor"/> from this request's first try.
    /// </summary>
    private async Task<Attempt<T>> WithRetriesAsync<T>(Func<Task<Attempt<T>>> tryOnce, CancellationToken cancellationToken) where T : class
    {
        var giveUpAt = time.GetUtcNow() + options.RetryFor;
        var delay = FirstDelay;
        while (true)
        {
            string cause;
            try
            {
                var attempt = await tryOnce();
                if (attempt.RetryBecause is null) return attempt;
                cause = attempt.RetryBecause;
            }
            catch (Exception e) when (e is HttpRequestException or HttpIOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Connection refused, reset mid-download, or no answer in time: the API may be starting or restarting.
                cause = e is TaskCanceledException ? "the API did not answer in time" : e.Message;
            }
            var jittered = delay * (0.8 + 0.4 * Random.Shared.NextDouble());
            if (time.GetUtcNow() + jittered > giveUpAt)
            {
                await error.WriteLineAsync($"error: gave up after {options.RetryFor.TotalSeconds:0} s: {cause}");
                return Attempt<T>.Stop(ExitCodes.FetchUnavailable);
            }
            await error.WriteLineAsync($"fetch: {cause}; retrying in {jittered.TotalSeconds:0.0} s");
            await Task.Delay(jittered, time, cancellationToken);
            delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
        }
    }

    /// <summary>One request for the version (by number or alias): its number and input schema.</summary>
    private async Task<Attempt<ResolvedVersion>> TryVersionAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var request = Get($"v1/models/{Uri.EscapeDataString(options.Model)}/versions/{Uri.EscapeDataString(options.Version)}");
        using var response = await client.SendAsync(request, cancellationToken);
        if (await FailedAsync<ResolvedVersion>(response, cancellationToken) is { } failed) return failed;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("version", out var number)
                && number.ValueKind == JsonValueKind.Number && number.TryGetInt32(out var n) && n > 0)
            {
                // Absent or null: the version has no schema. The API accepts only an object (ModelsApi's validation).
                var schema = root.TryGetProperty("input_schema", out var s) && s.ValueKind == JsonValueKind.Object ? s.Clone() : (JsonElement?)null;
                return Attempt<ResolvedVersion>.Done(new ResolvedVersion(n, schema));
            }
        }
        catch (JsonException)
        {
            // Reported below with the answer that has no version number.
        }
        // A 200 that is no version (a proxy's page): asking again would get the same page.
        await error.WriteLineAsync($"error: the API's answer for model '{options.Model}' version '{options.Version}' is not a model version");
        return Attempt<ResolvedVersion>.Stop(ExitCodes.FetchCorrupt);
    }

    /// <summary>One request for the file of version <paramref name="number"/>: the model file's path once it is in place.</summary>
    private async Task<Attempt<string>> TryFileAsync(HttpClient client, int number, CancellationToken cancellationToken)
    {
        using var request = Get($"v1/models/{Uri.EscapeDataString(options.Model)}/versions/{number}/file");
        var present = PresentModelFile();
        if (present is not null)
        {
            request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{await Sha256Async(present, cancellationToken)}\""));
        }
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotModified && present is not null)
        {
            await output.WriteLineAsync($"{present} is already the file of model '{options.Model}' version {number}");
            return Attempt<string>.Done(present);
        }
        if (await FailedAsync<string>(response, cancellationToken) is { } failed) return failed;
        var expected = response.Headers.ETag?.Tag.Trim('"');
        if (string.IsNullOrEmpty(expected))
        {
            await error.WriteLineAsync("error: the API gave no sha256 (ETag) for the file; it cannot be checked");
            return Attempt<string>.Stop(ExitCodes.FetchCorrupt);
        }
        return await SaveAsync(response, expected, cancellationToken);
    }

    /// <summary>A GET of one of the API's routes, with the token.</summary>
    private HttpRequestMessage Get(string route)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.Api, route));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        return request;
    }

    /// <summary>For an answer that is not a success, why to ask again (5xx, 429) or the exit code to stop with; null for a success.</summary>
    private async Task<Attempt<T>?> FailedAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken) where T : class
    {
        var status = (int)response.StatusCode;
        if (status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            return Attempt<T>.Retry($"the API answered {status}: {await DetailAsync(response, cancellationToken)}");
        }
        if (!response.IsSuccessStatusCode)
        {
            // 401 (an expired or revoked token), 403 (another model's token), 404 (no such model or version): asking
            // again changes nothing.
            await error.WriteLineAsync($"error: the API answered {status}: {await DetailAsync(response, cancellationToken)}");
            return Attempt<T>.Stop(ExitCodes.FetchRefused);
        }
        return null;
    }

    /// <summary>Writes the body to a temporary file beside the target, checks its sha256, and renames it into place.</summary>
    private async Task<Attempt<string>> SaveAsync(HttpResponseMessage response, string expected, CancellationToken cancellationToken)
    {
        // The registry names the file by its format's extension (Content-Disposition): .onnx, else an ML.NET .zip.
        var disposition = response.Content.Headers.ContentDisposition;
        var extension = Path.GetExtension(disposition?.FileNameStar ?? disposition?.FileName?.Trim('"') ?? "");
        var name = string.Equals(extension, ".onnx", StringComparison.OrdinalIgnoreCase) ? "model.onnx" : "model.zip";
        var target = Path.Combine(options.OutDirectory, name);
        var temporary = Path.Combine(options.OutDirectory, $".{name}.{Guid.NewGuid():N}.partial");
        try
        {
            string actual;
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[81920];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                // On disk before the rename: a node that loses power leaves no model that was never written.
                file.Flush(flushToDisk: true);
                actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
            {
                await error.WriteLineAsync($"error: sha256 mismatch: the API says {expected}, the download is {actual}; the file was not kept");
                return Attempt<string>.Stop(ExitCodes.FetchCorrupt);
            }
            File.Move(temporary, target, overwrite: true);
            // A folder holding both model.zip and model.onnx is ambiguous to serve: the other one is an earlier version's.
            foreach (var other in ModelFileNames.Where(n => n != name)) File.Delete(Path.Combine(options.OutDirectory, other));
            await output.WriteLineAsync($"{target} sha256 {actual}");
            return Attempt<string>.Done(target);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Writes the version's input schema as <c>schema.json</c> (compact JSON, under a temporary name, flushed, then
    /// renamed into place), or removes an earlier version's when this one has none: serve reads the file beside the
    /// model as that model's, and would check requests against another version's columns.
    /// </summary>
    private async Task WriteSchemaAsync(ResolvedVersion version, CancellationToken cancellationToken)
    {
        var target = Path.Combine(options.OutDirectory, SchemaFileName);
        if (version.InputSchema is not { } schema)
        {
            if (!File.Exists(target)) return;
            File.Delete(target);
            await output.WriteLineAsync($"{target} removed: version {version.Number} has no input schema");
            return;
        }
        var temporary = Path.Combine(options.OutDirectory, $".{SchemaFileName}.{Guid.NewGuid():N}.partial");
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                // Relaxed escaping: serve parses the file as JSON; nothing embeds it in HTML, so "<50k" may stay readable.
                await using (var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                {
                    schema.WriteTo(writer);
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
            await output.WriteLineAsync($"{target} input schema of version {version.Number}");
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The model file already in the folder (an earlier run's), if there is one.</summary>
    private string? PresentModelFile() =>
        ModelFileNames.Select(n => Path.Combine(options.OutDirectory, n)).FirstOrDefault(File.Exists);

    private static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    /// <summary>The problem's detail (or title) on one line, else the status's reason.</summary>
    private static async Task<string> DetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var field in new[] { "detail", "title" })
            {
                if (problem.RootElement.ValueKind == JsonValueKind.Object && problem.RootElement.TryGetProperty(field, out var value)
                    && value.ValueKind == JsonValueKind.String)
                {
                    return value.GetString()!.ReplaceLineEndings(" ");
                }
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's error page): the status says enough.
        }
        return response.ReasonPhrase ?? "no reason given";
    }

    /// <summary>The version an alias or number named when it was asked for, and its input schema (null: none).</summary>
    private sealed record ResolvedVersion(int Number, JsonElement? InputSchema);

    /// <summary>What one request came to: its result, else the exit code to stop with, else why to ask again.</summary>
    private sealed record Attempt<T>(T? Result, int? ExitCode, string? RetryBecause) where T : class
    {
        public static Attempt<T> Done(T result) => new(result, null, null);
        public static Attempt<T> Stop(int exitCode) => new(null, exitCode, null);
        public static Attempt<T> Retry(string because) => new(null, null, because);
    }
}
