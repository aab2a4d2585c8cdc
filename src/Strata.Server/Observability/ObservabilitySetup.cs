using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Strata.Server.Observability;

public static class ObservabilitySetup
{
    public const string ServiceName = "strata-server";
    /// <summary>The scrape endpoint; anonymous, to be exposed to the monitoring network only.</summary>
    public const string MetricsPath = "/metrics";
    /// <summary>The scheduler's cycles (<c>scheduler.cycle</c>).</summary>
    public const string SchedulerSource = "Strata.Scheduler";
    /// <summary>The reconciler's passes (<c>reconciler.pass</c>).</summary>
    public const string ReconcilerSource = "Strata.Reconciler";
    /// <summary>ASP.NET Core's own request-duration instrument, exported as <c>http_server_request_duration_seconds</c>.</summary>
    public const string HttpRequestDuration = "http.server.request.duration";

    /// <summary>
    /// Request durations from 1 ms to 10 s: the submission path answers in a few milliseconds, and
    /// ASP.NET Core's default buckets (from 5 ms) would make its p95 a guess.
    /// </summary>
    public static readonly double[] HttpDurationBuckets = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>
    /// Metrics (served at <c>/metrics</c>, and by OTLP when configured), traces (by OTLP only) and the
    /// console log's format (<c>Logging:Format</c> = <c>json</c> for one JSON object a line, scopes included).
    /// </summary>
    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder)
    {
        if (string.Equals(builder.Configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddJsonConsole(options =>
            {
                options.IncludeScopes = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            // A first line at once, for a person at a terminal: the first `dotnet run` is silent while it builds, and
            // the banner comes only once everything has started. Not with json: every line of that log is an object.
            Console.WriteLine("Strata is starting...");
        }

        builder.Services.AddOptions<ObservabilityOptions>().BindConfiguration(ObservabilityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ObservabilityOptions>, ObservabilityOptionsValidator>();
        // Which exporters exist is decided while the services are built, so the section is read here too.
        var options = builder.Configuration.GetSection(ObservabilityOptions.Section).Get<ObservabilityOptions>() ?? new ObservabilityOptions();
        var otlp = options.OtlpEndpoint is { IsAbsoluteUri: true } ? options : null;

        builder.Services.AddSingleton<StrataMetrics>();
        builder.Services.AddExceptionHandler<LastResortExceptionHandler>();
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: typeof(ObservabilitySetup).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddMeter(StrataMetrics.MeterName, "Microsoft.AspNetCore.Hosting")
                    .AddRuntimeInstrumentation()
                    .AddView(HttpRequestDuration, new ExplicitBucketHistogramConfiguration { Boundaries = HttpDurationBuckets })
                    // No cache: a scrape sees what happened before it (Prometheus scrapes every few seconds at most).
                    .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
                if (otlp is not null) metrics.AddOtlpExporter(exporter => ConfigureOtlp(exporter, otlp, "v1/metrics"));
            });
        if (otlp is not null)
        {
            // Traces are recorded only when something receives them: the submission path pays nothing otherwise.
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(aspnet => aspnet.Filter = context => !context.Request.Path.StartsWithSegments(MetricsPath, StringComparison.Ordinal))
                .AddSource(SchedulerSource, ReconcilerSource)
                .AddOtlpExporter(exporter => ConfigureOtlp(exporter, otlp, "v1/traces")));
        }
        return builder;
    }

    /// <summary><c>GET /metrics</c> in the Prometheus text format, without authentication.</summary>
    public static IEndpointRouteBuilder MapObservability(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsPath).AllowAnonymous().ExcludeFromDescription();
        // Made now, not at its first use: its gauges (ml_platform_sandbox_enabled among them) exist from the
        // first scrape, also on a server that has run nothing yet.
        _ = app.ServiceProvider.GetRequiredService<StrataMetrics>();
        return app;
    }

    private static void ConfigureOtlp(OtlpExporterOptions exporter, ObservabilityOptions options, string httpSignalPath)
    {
        var endpoint = options.OtlpEndpoint!;
        if (options.OtlpProtocol == OtlpTransport.HttpProtobuf)
        {
            // An endpoint set in code is used as it is: over HTTP, each signal has its own path.
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
            exporter.Endpoint = new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/" + httpSignalPath);
        }
        else
        {
            exporter.Protocol = OtlpExportProtocol.Grpc;
            exporter.Endpoint = endpoint;
        }
    }

    /// <summary>The OTLP endpoint, when set, is an absolute http(s) address.</summary>
    private sealed class ObservabilityOptionsValidator : IValidateOptions<ObservabilityOptions>
    {
        public ValidateOptionsResult Validate(string? name, ObservabilityOptions options) =>
            options.OtlpEndpoint is null or { IsAbsoluteUri: true, Scheme: "http" or "https" }
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"Observability:OtlpEndpoint must be an absolute http(s) address, such as http://collector:4317; it is '{options.OtlpEndpoint}'.");
    }
}
