using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Strata.Contracts;
using Strata.Core.Text;

namespace Strata.Server.Problems;

/// <summary>
/// Reads a request body with a size limit (<see cref="BodyLimits"/>) and Strata's JSON rules, turning
/// every failure into a clear problem instead of the framework's empty 400 or an escaped exception: a
/// body over the limit is a 413 (with a <c>Content-Length</c> or chunked), a body that is not UTF-8 or
/// holds a string with NUL or a lone surrogate (<see cref="TextRules"/>) is a 400.
/// </summary>
public static class JsonBody
{
    public const string UnsupportedMediaTypeDetail = "Send the body as application/json.";

    /// <summary>Reads and deserializes a JSON body of at most <paramref name="maxBytes"/> bytes.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(request.ContentLength, maxBytes));
        }
        if (request.HasJsonContentType() is false)
        {
            return (null, TypedResults.Problem(UnsupportedMediaTypeDetail, statusCode: 415,
                title: "Unsupported media type", type: ProblemTypes.UnsupportedMediaType));
        }
        var (bytes, problem) = await ReadBytesAsync(request, maxBytes, cancellationToken);
        if (problem is not null) return (null, problem);
        if (bytes.Length == 0)
        {
            return (null, Problem.Malformed("The request has no body; send a JSON object."));
        }
        if (FindBadText(bytes.Span) is { } bad)
        {
            return (null, bad);
        }
        try
        {
            var value = JsonSerializer.Deserialize<T>(bytes.Span, StrataJson.Options);
            return value is null
                ? (null, Problem.Malformed("The body must be a JSON object, not null."))
                : (value, null);
        }
        catch (JsonException e)
        {
            if (JsonErrors.Describe(e, StrataJson.Options) is { } wrong)
            {
                return (null, Problem.Malformed(wrong.Field.Length == 0
                    ? $"The body is not a valid request: it {wrong.Message}"
                    : $"The body is not a valid request: {wrong.Field}: {wrong.Message}"));
            }
            return (null, Problem.Malformed(JsonErrors.Syntax(e)));
        }
    }

    private const int InitialBufferBytes = 64 * 1024;

    /// <summary>
    /// Reads the raw body, at most <paramref name="maxBytes"/> bytes, and checks that it is UTF-8. The route's
    /// limit replaces the server-wide one for this request, and the bytes are counted here, so a chunked
    /// body over it is the same 413 as one that says its length.
    /// </summary>
    public static async Task<(ReadOnlyMemory<byte> Bytes, ProblemHttpResult? Problem)> ReadBytesAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return (default, TooLarge(request.ContentLength, maxBytes));
        }
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes + 1L;
        }
        // Sized by the declared length up to 64 KiB (most bodies: read into one array, no regrowth); past that the
        // buffer grows as bytes arrive, so that a length declared and never sent reserves no memory.
        var buffer = new MemoryStream((int)Math.Min(request.ContentLength ?? 0, InitialBufferBytes));
        var chunk = ArrayPool<byte>.Shared.Rent(8192);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (default, TooLarge(null, maxBytes));
                }
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, TooLarge(null, maxBytes));
        }
        catch (BadHttpRequestException e)
        {
            // A broken chunked encoding, a body shorter than its Content-Length: the client's fault.
            return (default, Problem.Malformed($"The request body could not be read: {e.Message}"));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (!TextRules.IsValidUtf8(bytes.Span))
        {
            return (default, Problem.Malformed("The body is not valid UTF-8."));
        }
        return (bytes, null);
    }

    private static ProblemHttpResult TooLarge(long? length, int maxBytes) => Problem.TooLarge(
        length is { } l ? $"The body is {l} bytes; the limit is {maxBytes}." : $"The body is larger than the limit of {maxBytes} bytes.");

    /// <summary>
    /// The first string (a value or a property name) that is not acceptable text anywhere in a body: one
    /// with NUL or an escaped lone surrogate (<c>"\ud800"</c>). Checked here, once for every route, so that no
    /// route holds such text in a <see cref="JsonElement"/> that fails only when it is read. A body that is
    /// not JSON is left to the serializer, which says where.
    /// </summary>
    private static ProblemHttpResult? FindBadText(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions
        {
            MaxDepth = StrataJson.Options.MaxDepth,
            CommentHandling = StrataJson.Options.ReadCommentHandling,
            AllowTrailingCommas = StrataJson.Options.AllowTrailingCommas,
        });
        var path = new List<PathStep>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        NextValue(path);
                        path.Add(new PathStep(reader.TokenType == JsonTokenType.StartArray, -1, null));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        var name = Text(ref reader, out var nameProblem);
                        path[^1] = path[^1] with { Name = name ?? "?" };
                        if (nameProblem is not null) return Bad(path, "a property name " + nameProblem);
                        break;
                    case JsonTokenType.String:
                        NextValue(path);
                        Text(ref reader, out var valueProblem);
                        if (valueProblem is not null) return Bad(path, valueProblem);
                        break;
                    default:
                        NextValue(path);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return null;
    }

    private readonly record struct PathStep(bool IsArray, int Index, string? Name);

    private static void NextValue(List<PathStep> path)
    {
        if (path.Count > 0 && path[^1].IsArray)
        {
            path[^1] = path[^1] with { Index = path[^1].Index + 1 };
        }
    }

    private static string? Text(ref Utf8JsonReader reader, out string? problem)
    {
        string? text;
        try
        {
            text = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            problem = "must be valid Unicode text (it has a lone surrogate)";
            return null;
        }
        problem = text is null ? null : TextRules.Problem(text, TextKind.Value);
        return text;
    }

    private static ProblemHttpResult Bad(List<PathStep> path, string problem)
    {
        var field = new StringBuilder();
        foreach (var step in path)
        {
            if (step.IsArray)
            {
                if (step.Index >= 0) field.Append('[').Append(step.Index).Append(']');
            }
            else if (step.Name is not null)
            {
                if (field.Length > 0) field.Append('.');
                field.Append(step.Name.Length > 64 ? step.Name[..64] + "..." : step.Name.Replace('\0', '?'));
            }
        }
        var where = field.Length == 0 ? "the body" : field.ToString();
        return TypedResults.Problem($"The text at {where} {problem}.", statusCode: 400, title: "Validation failed", type: ProblemTypes.Validation,
            extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [where] = [problem] } });
    }

}
