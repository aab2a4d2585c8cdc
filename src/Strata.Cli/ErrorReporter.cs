using Spectre.Console;
using Strata.Client;

namespace Strata.Cli;

/// <summary>Turns a failure into one clear line on standard error (one per field for validation) and an exit code.</summary>
public static class ErrorReporter
{
    /// <param name="subject">What the command was about, such as <c>job "x"</c>, to word a 404.</param>
    public static int Report(IAnsiConsole error, Exception exception, string? subject = null)
    {
        switch (exception)
        {
            case UsageException:
                WriteError(error, exception.Message);
                return ExitCodes.UsageError;
            case NotLoggedInException:
                WriteError(error, exception.Message);
                return ExitCodes.Unauthorized;
            case NotFoundException notFound:
                WriteError(error, subject is null ? ApiMessage(notFound) : $"{subject} not found ({notFound.Status})");
                return ExitCodes.NotFound;
            case AmbiguousReferenceException ambiguous:
                WriteError(error, ApiMessage(ambiguous));
                WriteCandidates(error, ambiguous);
                return ExitCodes.ApiError;
            case UnauthorizedException unauthorized:
                WriteError(error, $"{ApiMessage(unauthorized)}; run 'strata login' with a valid token");
                return ExitCodes.Unauthorized;
            case ForbiddenException forbidden:
                WriteError(error, ApiMessage(forbidden));
                return ExitCodes.Unauthorized;
            case ValidationException validation:
                var summary = ApiMessage(validation);
                WriteError(error, summary);
                // A field the summary already names (a prediction's schema errors are listed in its detail) is not said twice.
                foreach (var (field, messages) in validation.Errors.OrderBy(e => e.Key, StringComparer.Ordinal)
                             .Where(e => !summary.Contains($"{(e.Key.Length == 0 ? "body" : e.Key)}: ", StringComparison.Ordinal)))
                {
                    WriteError(error, $"{field}: {string.Join("; ", messages)}");
                }

                return ExitCodes.ApiError;
            case RateLimitedException limited:
                WriteError(error, limited.RetryAfter is { } wait
                    ? $"{ApiMessage(limited)}; retry after {Math.Ceiling(wait.TotalSeconds)} s"
                    : ApiMessage(limited));
                return ExitCodes.ApiError;
            case StrataApiException api:
                WriteError(error, ApiMessage(api));
                return ExitCodes.ApiError;
            case StrataConnectionException:
                WriteError(error, exception.Message);
                return ExitCodes.ConnectionError;
            case TimeoutException:
                WriteError(error, exception.Message);
                return ExitCodes.Timeout;
            case IOException or UnauthorizedAccessException:
                WriteError(error, exception.Message);
                return ExitCodes.UsageError;
            default:
                WriteError(error, $"unexpected error: {exception.Message}");
                return ExitCodes.Failure;
        }
    }

    /// <summary>Writes <c>error: message</c> unwrapped, so that long messages stay on one line.</summary>
    public static void WriteError(IAnsiConsole error, string message)
    {
        var prefix = error.Profile.Capabilities.Ansi ? "\u001b[31merror:\u001b[0m" : "error:";
        error.Profile.Out.Writer.WriteLine($"{prefix} {message}");
    }

    /// <summary>The jobs an ambiguous reference names, as a table under the error line, so that the user can pick one.</summary>
    private static void WriteCandidates(IAnsiConsole error, AmbiguousReferenceException ambiguous)
    {
        if (ambiguous.Candidates.Count == 0) return;
        var table = new Table().AddColumns("ID", "NAME", "STATUS", "CREATED");
        foreach (var job in ambiguous.Candidates)
        {
            table.AddRow(Output.Esc(job.Id), Output.Esc(job.Name), Output.StatusMarkup(job.Status), Output.Time(job.CreatedAt));
        }
        table.Columns[0].NoWrap();
        error.Write(table);
        if (ambiguous.Count > ambiguous.Candidates.Count)
        {
            error.WriteLine($"... and {ambiguous.Count - ambiguous.Candidates.Count} more");
        }
    }

    // The exception's message is already "detail (status)".
    private static string ApiMessage(StrataApiException e) => e.Message;
}
