using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Strata.Contracts;

namespace Strata.Server.Observability;

/// <summary>
/// The exception handler of last resort (<c>UseExceptionHandler</c>): what escapes an endpoint is answered
/// as problem+json, never as an empty 500. A request the framework could not read
/// (<see cref="BadHttpRequestException"/>: a body over Kestrel's limit, a broken chunked encoding) is
/// the client's fault and keeps its 4xx status. Anything else is a bug: it is logged with its trace id,
/// counted in <c>ml_platform_unhandled_errors_total</c> (alert <c>UnhandledErrors</c>) and answered 500
/// with the trace id, so that a report of it can be found in the log.
/// </summary>
public sealed class LastResortExceptionHandler(IProblemDetailsService problems, StrataMetrics metrics, ILogger<LastResortExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // The id every problem of the server carries (ASP.NET Core adds it as traceId; the JSON policy writes trace_id).
        var traceId = Activity.Current?.Id ?? httpContext.TraceIdentifier;
        ProblemDetails problem;
        if (exception is BadHttpRequestException bad)
        {
            problem = new ProblemDetails
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request too large" : "Malformed request",
                Detail = bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                    ? "The request body is larger than this route accepts (docs/limits.md)."
                    : $"The request could not be read: {bad.Message}",
            };
        }
        else if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody reads an answer, and it is no bug. Recorded as nginx's 499
            // (client closed request), so that request metrics do not count it as a server error.
            httpContext.Response.StatusCode = 499;
            return true;
        }
        else
        {
            metrics.UnhandledError();
            logger.LogError(exception, "Unhandled error answering {Method} {Path} (trace {TraceId})",
                httpContext.Request.Method, httpContext.Request.Path.Value, traceId);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "Internal error",
                Type = ProblemTypes.Internal,
                Detail = $"The server failed to answer this request. It is logged with trace id {traceId}; quote it when you report the problem.",
            };
        }
        problem.Extensions["traceId"] = traceId;
        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}
