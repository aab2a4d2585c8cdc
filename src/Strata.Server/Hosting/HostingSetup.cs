using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Problems;

namespace Strata.Server.Hosting;

public static class HostingSetup
{
    /// <summary>The default listen address when none is configured.</summary>
    public const string DefaultUrl = "http://localhost:8080";
    /// <summary>The largest request body any route accepts; routes set smaller limits of their own.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Data folder (and its periodic sweep), the bound on work with users' files, JSON conventions, problem details, request limits and OpenAPI.</summary>
    public static WebApplicationBuilder AddHosting(this WebApplicationBuilder builder)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]) && string.IsNullOrEmpty(builder.Configuration["Kestrel:Endpoints:Http:Url"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        builder.Services.AddOptions<StrataOptions>().BindConfiguration(StrataOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => new DataFolder(sp.GetRequiredService<IOptions<StrataOptions>>().Value.DataPath));
        builder.Services.AddSingleton<PlatformUrl>();
        builder.Services.AddSingleton<TenantPaths>();
        builder.Services.AddOptions<FileWorkOptions>().BindConfiguration(FileWorkOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<FileWork>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.Configure<JsonOptions>(options => StrataJson.Configure(options.SerializerOptions));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type is null || problem.Type == "about:blank" || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
            {
                problem.Type = Problem.TypeFor(problem.Status ?? 500);
            }
            problem.Detail ??= Problem.DetailFor(problem.Status ?? 500);
        });
        builder.Services.AddOpenApi(ApiReference.Configure);
        builder.Services.AddHostedService<StartupBanner>();
        return builder;
    }
}

/// <summary>Says where the API, the docs and the admin token are, once the server listens.</summary>
public sealed class StartupBanner(
    IServer server, IHostApplicationLifetime lifetime, DataFolder data, IJobRuntime runtime, IRuntimeProfile profile, ILogger<StartupBanner> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var url = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? HostingSetup.DefaultUrl;
            logger.LogInformation(
                "Strata is ready.\n  Dashboard:   {Url}/ui\n  API:         {Url}/v1\n  Docs:        {Url}/docs\n  OpenAPI:     {Url}/openapi/v1.json\n  Admin token: {Token}\n  Data folder: {Data}\n  Capacity:    {Capacity} ({Runtime})\n  GPUs:        {Gpus}\n  Sandbox:     {Sandbox}\n  Log in:      strata login {Url} --token \"$(cat {Token})\"",
                url, url, url, url, data.AdminToken, data.Root, runtime.Capacity.Total, profile.Description, Gpus(profile), profile.IsolationDescription, url, data.AdminToken);
            if (profile.Isolation is { Enabled: false } isolation)
            {
                logger.LogWarning("JOBS ARE NOT ISOLATED: {Why}. Any job can read the data folder (the signing key and the admin token among it) and other tenants' files. Install bubblewrap (apt-get install bubblewrap) and restart; see docs/sandbox.md.", isolation.Reason);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The banner's GPU line: each device the runtime found, or none.</summary>
    internal static string Gpus(IRuntimeProfile profile) => profile.GpuDevices is { Count: > 0 } devices
        ? string.Join("; ", devices.Select(d => $"{d.Index}: {d.Name}, {d.MemoryMb} MiB ({d.Uuid})"))
        : "none";
}
