using System.Net;
using System.Text.Json;
using Strata.Contracts;

namespace Strata.Client;

/// <summary>
/// The Strata API answered with an error. Carries the RFC 9457 problem details; switch on
/// <see cref="Type"/> (a <see cref="ProblemTypes"/> value) or on the subclass, never on <see cref="Detail"/>.
/// </summary>
public class StrataApiException : Exception
{
    public StrataApiException(string message) : base(message)
    {
        Errors = new Dictionary<string, string[]>();
    }

    public StrataApiException(string message, Exception innerException) : base(message, innerException)
    {
        Errors = new Dictionary<string, string[]>();
    }

    public StrataApiException(ApiProblem problem) : base(problem.ToMessage())
    {
        Status = problem.Status;
        Type = problem.Type;
        Title = problem.Title;
        Detail = problem.Detail;
        Errors = problem.Errors;
        ProblemDetails = problem.Raw;
    }

    public StrataApiException()
    {
        Errors = new Dictionary<string, string[]>();
    }

    /// <summary>The HTTP status code of the response.</summary>
    public int Status { get; }
    /// <summary>The problem's <c>type</c> URI (see <see cref="ProblemTypes"/>), or null when the body was not a problem.</summary>
    public string? Type { get; }
    public string? Title { get; }
    public string? Detail { get; }
    /// <summary>Validation errors: field path → messages. Empty when the problem has none.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }
    /// <summary>The raw problem details document, or null when the body was not JSON.</summary>
    public JsonElement? ProblemDetails { get; }
}

/// <summary>401: the token is missing, expired or invalid.</summary>
public class UnauthorizedException : StrataApiException
{
    public UnauthorizedException(ApiProblem problem) : base(problem) { }
    public UnauthorizedException() { }
    public UnauthorizedException(string message) : base(message) { }
    public UnauthorizedException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>403: the token is valid but its role or tenant does not allow the operation.</summary>
public class ForbiddenException : StrataApiException
{
    public ForbiddenException(ApiProblem problem) : base(problem) { }
    public ForbiddenException() { }
    public ForbiddenException(string message) : base(message) { }
    public ForbiddenException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>404: the resource does not exist, or belongs to another tenant.</summary>
public class NotFoundException : StrataApiException
{
    public NotFoundException(ApiProblem problem) : base(problem) { }
    public NotFoundException() { }
    public NotFoundException(string message) : base(message) { }
    public NotFoundException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>409: the resource exists already, or its name is taken by an active job.</summary>
public class ConflictException : StrataApiException
{
    public ConflictException(ApiProblem problem) : base(problem) { }
    public ConflictException() { }
    public ConflictException(string message) : base(message) { }
    public ConflictException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// 409 with type <see cref="ProblemTypes.AmbiguousReference"/>: a job reference (an id prefix or a name) names several
/// jobs. <see cref="Candidates"/> lists them (newest first, at most <see cref="JobCandidate.MaxListed"/>) and
/// <see cref="Count"/> says how many there are; a longer prefix or the full id names one.
/// </summary>
public class AmbiguousReferenceException : ConflictException
{
    public AmbiguousReferenceException(ApiProblem problem) : base(problem)
    {
        if (problem.Raw is { ValueKind: JsonValueKind.Object } raw)
        {
            if (raw.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
            {
                try
                {
                    Candidates = candidates.Deserialize<JobCandidate[]>(StrataJson.Options) ?? [];
                }
                catch (JsonException)
                {
                    // A candidate this client cannot read (a newer server's status): the message still says what to do.
                }
            }
            Count = raw.TryGetProperty("count", out var count) && count.TryGetInt32(out var n) ? n : Candidates.Count;
        }
    }

    public AmbiguousReferenceException() { }
    public AmbiguousReferenceException(string message) : base(message) { }
    public AmbiguousReferenceException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>The jobs the reference names, newest first; at most <see cref="JobCandidate.MaxListed"/>.</summary>
    public IReadOnlyList<JobCandidate> Candidates { get; } = [];
    /// <summary>How many jobs the reference names (more than <see cref="Candidates"/> holds when it names many).</summary>
    public int Count { get; }
}

/// <summary>400, 413 or 422: the request was refused; <see cref="StrataApiException.Errors"/> says which fields and why.</summary>
public class ValidationException : StrataApiException
{
    public ValidationException(ApiProblem problem) : base(problem) { }
    public ValidationException() { }
    public ValidationException(string message) : base(message) { }
    public ValidationException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>429 with type <see cref="ProblemTypes.QuotaExceeded"/>: the request, added to what the tenant uses, exceeds its quota.</summary>
public class QuotaExceededException : StrataApiException
{
    public QuotaExceededException(ApiProblem problem) : base(problem) { }
    public QuotaExceededException() { }
    public QuotaExceededException(string message) : base(message) { }
    public QuotaExceededException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>429: too many requests; wait <see cref="RetryAfter"/> before trying again.</summary>
public class RateLimitedException : StrataApiException
{
    public RateLimitedException(ApiProblem problem, TimeSpan? retryAfter) : base(problem)
    {
        RetryAfter = retryAfter;
    }

    public RateLimitedException() { }
    public RateLimitedException(string message) : base(message) { }
    public RateLimitedException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>From the <c>Retry-After</c> header; null when the server sent none.</summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>The server could not be reached (connection refused, DNS failure, TLS failure, timeout).</summary>
public class StrataConnectionException : Exception
{
    public StrataConnectionException() { }
    public StrataConnectionException(string message) : base(message) { }
    public StrataConnectionException(string message, Exception innerException) : base(message, innerException) { }

    public StrataConnectionException(Uri url, Exception innerException)
        : base($"could not reach the Strata server at {url.GetLeftPart(UriPartial.Authority)}: {innerException.Message}", innerException)
    {
        Url = url;
    }

    /// <summary>The URL of the request that failed.</summary>
    public Uri? Url { get; }
}

/// <summary>An error response as read from the wire (problem details or not).</summary>
public sealed record ApiProblem
{
    public required int Status { get; init; }
    public string? Type { get; init; }
    public string? Title { get; init; }
    public string? Detail { get; init; }
    public IReadOnlyDictionary<string, string[]> Errors { get; init; } = new Dictionary<string, string[]>();
    public JsonElement? Raw { get; init; }

    /// <summary>One line a person can act on: the detail, else the title, with the status.</summary>
    public string ToMessage()
    {
        var text = !string.IsNullOrWhiteSpace(Detail) ? Detail
            : !string.IsNullOrWhiteSpace(Title) ? Title
            : ReasonPhrase(Status);
        return $"{text} ({Status})";
    }

    internal static string ReasonPhrase(int status) =>
        Enum.IsDefined(typeof(HttpStatusCode), status)
            ? SplitWords(((HttpStatusCode)status).ToString())
            : "HTTP error";

    private static string SplitWords(string name)
    {
        var chars = new List<char>(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                chars.Add(' ');
                chars.Add(char.ToLowerInvariant(name[i]));
            }
            else
            {
                chars.Add(name[i]);
            }
        }

        return new string([.. chars]);
    }

    /// <summary>Reads an error body. Bodies that are not problem details still give the status.</summary>
    internal static ApiProblem Parse(int status, string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return new ApiProblem { Status = status };
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new ApiProblem { Status = status, Detail = Truncate(body) };
            }

            var errors = new Dictionary<string, string[]>();
            if (root.TryGetProperty("errors", out var errorsElement) && errorsElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var field in errorsElement.EnumerateObject())
                {
                    errors[field.Name] = field.Value.ValueKind switch
                    {
                        JsonValueKind.Array => [.. field.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() ?? "" : e.GetRawText())],
                        JsonValueKind.String => [field.Value.GetString() ?? ""],
                        _ => [field.Value.GetRawText()],
                    };
                }
            }

            return new ApiProblem
            {
                // The HTTP status is authoritative; a body's "status" member only repeats it.
                Status = status,
                Type = GetString(root, "type"),
                Title = GetString(root, "title"),
                Detail = GetString(root, "detail"),
                Errors = errors,
                Raw = root.Clone(),
            };
        }
        catch (JsonException)
        {
            return new ApiProblem { Status = status, Detail = Truncate(body) };
        }
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string body)
    {
        var line = body.Trim().ReplaceLineEndings(" ");
        return line.Length <= 200 ? line : line[..200] + "…";
    }

    internal StrataApiException ToException(TimeSpan? retryAfter) => Status switch
    {
        401 => new UnauthorizedException(this),
        403 => new ForbiddenException(this),
        404 => new NotFoundException(this),
        409 when Type == ProblemTypes.AmbiguousReference => new AmbiguousReferenceException(this),
        409 => new ConflictException(this),
        400 or 413 or 422 => new ValidationException(this),
        429 when Type == ProblemTypes.QuotaExceeded => new QuotaExceededException(this),
        429 => new RateLimitedException(this, retryAfter),
        _ => new StrataApiException(this),
    };
}
