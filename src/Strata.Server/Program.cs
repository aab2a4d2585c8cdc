using Scalar.AspNetCore;
using Strata.Server.Artifacts;
using Strata.Server.Attempts;
using Strata.Server.Auth;
using Strata.Server.Dashboard;
using Strata.Server.Deployments;
using Strata.Server.Health;
using Strata.Server.Hosting;
using Strata.Server.Idempotency;
using Strata.Server.Jobs;
using Strata.Server.Leadership;
using Strata.Server.Models;
using Strata.Server.Observability;
using Strata.Server.Queue;
using Strata.Server.Quotas;
using Strata.Server.RateLimits;
using Strata.Server.Recommendations;
using Strata.Server.Retention;
using Strata.Server.Runtime;
using Strata.Server.Scheduling;
using Strata.Server.Storage;
using Strata.Server.Tenants;
using Strata.Server.Tracking;
using Strata.Server.Usage;

// appsettings.json lives beside the binary; the data folder is relative to where the server is started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddHosting();
builder.AddObservability();
builder.AddStorage();
builder.AddAuth();
builder.AddRateLimits();
builder.AddTenants();
builder.AddQuotas();
builder.AddJobs();
builder.AddUsage();
builder.AddArtifacts();
builder.AddTracking();
builder.AddModels();
builder.AddDeployments();
builder.AddRecommendations();
builder.AddRuntimes();
builder.AddQueue();
builder.AddAttempts();
builder.AddScheduling();
builder.AddLeadership();
builder.AddRetention();
builder.AddIdempotency();
builder.AddHealth();
builder.AddDashboard();

var app = builder.Build();

app.MigrateStore();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.UseDashboard();

app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
// The reference of this API only: no hosted AI chat, MCP or deployment buttons of Scalar's own.
app.MapScalarApiReference("/docs", options => options.WithOpenApiRoutePattern("/openapi/{documentName}.json").DisableAgent().DisableMcp().HideDeveloperTools()).AllowAnonymous();
// The server's address opened in a browser: the dashboard (which links the API reference at /docs) rather than a 401.
app.MapGet("/", () => Results.Redirect("/ui")).AllowAnonymous().ExcludeFromDescription();
app.MapHealthApi();
app.MapObservability();
app.MapTenantsApi();
app.MapQuotasApi();
app.MapJobsApi();
app.MapJobOutputsApi();
app.MapUsageApi();
app.MapArtifactsApi();
app.MapTrackingApi();
app.MapModelsApi();
app.MapDeploymentsApi();
app.MapRecommendationsApi();
app.MapCapacityApi();
app.MapDashboard();

app.Run();

/// <summary>The server's entry point; public so that tests can host it with WebApplicationFactory.</summary>
public partial class Program;
