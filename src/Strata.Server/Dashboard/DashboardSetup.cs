using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Server.Auth;
using Strata.Server.Dashboard.Pages;
using Strata.Server.Dashboard.Shared;
using Strata.Server.Deployments;
using Strata.Server.Jobs;
using Strata.Server.Models;
using Strata.Server.Storage;

namespace Strata.Server.Dashboard;

/// <summary>
/// The web dashboard at <c>/ui</c> (docs/dashboard.md): Razor components rendered on the server (static
/// rendering, streaming where a page waits), forms posted to the small endpoints below with ASP.NET Core's
/// antiforgery, live updates as server-sent events read by the page's inline script.
/// </summary>
public static class DashboardSetup
{
    private static readonly TimeSpan EventPoll = TimeSpan.FromMilliseconds(500);

    public static WebApplicationBuilder AddDashboard(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents();
        // Blazor's script (_framework/blazor.web.js) is a static web asset of the framework: a publish copies it
        // beside the server, a build names it in the runtime manifest, which only Development reads unless told to.
        // The manifest points into the NuGet cache of whoever built the server: a server run as another user (which
        // cannot read that cache) would die at start reading it, so it is read only where its folders can be.
        if (StaticWebAssetsReadable(builder.Environment)) builder.WebHost.UseStaticWebAssets();
        builder.Services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "strata_ui_antiforgery";
            options.Cookie.Path = DashboardSession.PathPrefix;
        });
        builder.Services.AddSingleton<DashboardSession>();
        builder.Services.AddSingleton<SignInCodes>();
        // Under /ui the API's bearer handler also reads the session cookie: one validation, revocation included.
        builder.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
        {
            var before = options.Events.OnMessageReceived;
            options.Events.OnMessageReceived = async context =>
            {
                await before(context);
                if (context.Token is null && IsDashboardPath(context.Request.Path) && context.Request.Headers.Authorization.Count == 0
                    && context.Request.Cookies.TryGetValue(DashboardSession.CookieName, out var token) && token.Length > 0)
                {
                    context.Token = token;
                }
            };
        });
        return builder;
    }

    /// <summary>
    /// After authentication: a request under /ui from no one signed in goes to the sign-in page (a dead or
    /// expired session's cookie is dropped on the way); then antiforgery, which the form endpoints require: each
    /// binds the form, and binding a form checks its token.
    /// </summary>
    public static WebApplication UseDashboard(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (IsDashboardPath(path) && context.Features.Get<IStatusCodePagesFeature>() is { } statusCodePages)
            {
                // A page's own 404 or 403 is a page, not the API's problem+json.
                statusCodePages.Enabled = false;
            }
            if (IsDashboardPath(path) && !path.StartsWithSegments("/ui/signin") && !DashboardSession.IsSignedIn(context))
            {
                if (context.Request.Cookies.ContainsKey(DashboardSession.CookieName)) DashboardSession.DeleteCookie(context);
                if (HttpMethods.IsGet(context.Request.Method))
                {
                    context.Response.Redirect("/ui/signin?return=" + Uri.EscapeDataString(path + context.Request.QueryString));
                }
                else
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                }
                return;
            }
            await next(context);
        });
        app.UseAntiforgery();
        return app;
    }

    /// <summary>
    /// True where a build's runtime manifest of static web assets names only folders this process can read (false
    /// too where there is none: a publish has its assets beside the server). Without them the pages work, and only
    /// Blazor's script is missing (no enhanced navigation; live updates use the dashboard's own script).
    /// </summary>
    private static bool StaticWebAssetsReadable(IWebHostEnvironment environment)
    {
        var manifest = Path.Combine(AppContext.BaseDirectory, $"{environment.ApplicationName}.staticwebassets.runtime.json");
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(manifest));
            if (!document.RootElement.TryGetProperty("ContentRoots", out var roots)) return false;
            foreach (var root in roots.EnumerateArray())
            {
                if (root.GetString() is not { } folder || !Directory.Exists(folder)) return false;
            }
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return false;
        }
    }

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapStaticAssets().AllowAnonymous();
        app.MapRazorComponents<App>().AllowAnonymous();

        var ui = app.MapGroup(DashboardSession.PathPrefix).AllowAnonymous().ExcludeFromDescription();
        ui.MapPost("/signin", SignInAsync);
        ui.MapPost("/signout", SignOut);
        ui.MapPost("/jobs/{id}/cancel", CancelAsync);
        ui.MapPost("/models/{name}/aliases/{alias}", MoveAliasAsync);
        ui.MapPost("/deployments/{name}/rollback", ServeVersionAsync);
        ui.MapPost("/deployments/{name}/promote", ServeVersionAsync);
        ui.MapPost("/deployments/{name}/canary-weight", SetCanaryWeightAsync);
        ui.MapGet("/jobs/{id}/log", JobLogs.StreamAsync);
        ui.MapGet("/jobs/{id}/charts", (string id, string? x) => new RazorComponentResult<MetricCharts>(new { JobId = id, X = x }));
        ui.MapGet("/events/jobs", JobEventsAsync);
        ui.MapGet("/events/deployments", DeploymentEvents.StreamAsync);
        // Any other address under /ui, signed in, is the dashboard's not-found page (signed out: the sign-in page, as
        // for every page, so that no one learns which addresses exist without a token).
        ui.MapFallback("{**path}", () => new RazorComponentResult<PageNotFound> { StatusCode = StatusCodes.Status404NotFound });

        app.MapPost("/v1/ui/signin-codes", MintSignInCode).WithTags("Dashboard").WithName("CreateDashboardSignInCode")
            .WithSummary("A one-time code that signs the browser in to the dashboard as this token, for a minute (`strata ui`); the answer holds the link to open.");
        return app;
    }

    private static bool IsDashboardPath(PathString path) => path.StartsWithSegments(DashboardSession.PathPrefix);

    /// <summary>A local /ui address to go back to after signing in; anything else goes to the jobs page.</summary>
    public static string SafeReturn(string? target) =>
        target is { Length: > 0 } && target.StartsWith("/ui", StringComparison.Ordinal) && !target.StartsWith("//", StringComparison.Ordinal) && !target.Contains('\\')
            ? target
            : "/ui/jobs";

    private static async Task<IResult> SignInAsync(
        [FromForm] string? token, [FromForm(Name = "return")] string? returnTo, HttpContext context, DashboardSession session, CancellationToken cancellationToken)
    {
        var (expiresAt, refusal) = await session.CheckAsync(token?.Trim() ?? "", cancellationToken);
        if (refusal is not null)
        {
            return Results.Redirect($"/ui/signin?refused={refusal}&return={Uri.EscapeDataString(SafeReturn(returnTo))}");
        }
        DashboardSession.SetCookie(context, token!.Trim(), expiresAt);
        return Results.Redirect(SafeReturn(returnTo));
    }

    // The form parameter is what makes minimal APIs check the antiforgery token (a form without one is a 400).
    private static IResult SignOut(IFormCollection form, HttpContext context)
    {
        DashboardSession.DeleteCookie(context);
        return Results.Redirect("/ui/signin");
    }

    private static async Task<IResult> CancelAsync(string id, IFormCollection form, HttpContext context, JobService jobs, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (caller.TenantId is null) return NotFound();
        if (!caller.CanWrite) return Forbidden("A viewer cannot cancel jobs.");
        var outcome = await jobs.CancelAsync(caller.TenantId, id, cancellationToken);
        if (outcome.Job is null) return NotFound();
        return Results.Redirect($"/ui/jobs/{Uri.EscapeDataString(id)}");
    }

    private static async Task<IResult> MoveAliasAsync(
        string name, string alias, [FromForm] int? version, HttpContext context, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (caller.TenantId is null) return NotFound();
        if (!caller.CanWrite) return Forbidden("A viewer cannot move aliases.");
        if (ModelNames.CheckAlias(alias) is not null || version is not > 0) return Invalid("The alias or the version is not one; go back and choose again.");
        var (model, exists) = await registry.SetAliasAsync(caller.TenantId, name, alias, version.Value, cancellationToken);
        if (model is null) return NotFound();
        if (!exists) return Invalid($"Model {name} has no version {version}.");
        return Results.Redirect($"/ui/models/{Uri.EscapeDataString(name)}");
    }

    /// <summary>
    /// A rollback or a canary's promotion: the deployment serves <paramref name="version"/> (the one its
    /// confirmation named), as <c>PATCH {"model": "name@version"}</c> does, replica by replica.
    /// </summary>
    private static async Task<IResult> ServeVersionAsync(
        string name, [FromForm] int? version, HttpContext context, Store store, DeploymentService deployments, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (caller.TenantId is null) return NotFound();
        if (!caller.CanWrite) return Forbidden("A viewer cannot change deployments.");
        if (version is not > 0) return Invalid("The version is not one; go back and choose again.");
        await using var db = store.CreateContext();
        var record = await db.Deployments.AsNoTracking().FirstOrDefaultAsync(d => d.TenantId == caller.TenantId && d.Name == name, cancellationToken);
        if (record is null) return NotFound();
        var (model, problem) = await deployments.ResolveAsync(caller.TenantId, $"{record.ModelName}@{version}", cancellationToken);
        if (model is null) return Invalid(problem!);
        var outcome = await deployments.UpdateAsync(caller.TenantId, name, _ => null, model, canary: null, cancellationToken);
        if (outcome.Updated is null) return outcome.Excess is not null ? Invalid("The tenant's quota has no room for the change.") : NotFound();
        return Results.Redirect($"/ui/deployments/{Uri.EscapeDataString(name)}");
    }

    /// <summary>
    /// Sets the canary's share of requests as <c>PATCH {"canary": {"weight": …}}</c> does, in whole percent: 1 to 99,
    /// or 0 to remove the canary (all of them is its promotion). <paramref name="version"/> is the canary its
    /// confirmation named: when another has taken its place since, nothing changes.
    /// </summary>
    private static async Task<IResult> SetCanaryWeightAsync(
        string name, [FromForm] string? weight, [FromForm] int? version, HttpContext context, DeploymentService deployments, CancellationToken cancellationToken)
    {
        var caller = context.Caller();
        if (caller.TenantId is null) return NotFound();
        if (!caller.CanWrite) return Forbidden("A viewer cannot change deployments.");
        if (CanaryWeightForm.Parse(weight) is not { } percent) return Invalid(CanaryWeightForm.Rule);
        if (version is not > 0) return Invalid("The canary's version is not one; go back and choose again.");
        var outcome = await deployments.UpdateAsync(caller.TenantId, name,
            record => record.CanaryModelVersion == version
                ? null
                : ("canary", $"The deployment's canary is no longer version {version}; go back to see what it is now."),
            model: null, new CanaryChange(Model: null, Weight: percent / 100.0), cancellationToken);
        if (outcome.Invalid is { } invalid) return Invalid(invalid.Message);
        if (outcome.Excess is not null) return Invalid("The tenant's quota has no room for the canary's replicas at that weight.");
        if (outcome.Updated is null) return NotFound();
        return Results.Redirect($"/ui/deployments/{Uri.EscapeDataString(name)}");
    }

    private static RazorComponentResult<Standalone> Invalid(string why) =>
        new(new { Title = "Not done", Message = why }) { StatusCode = StatusCodes.Status400BadRequest };

    private static RazorComponentResult<Standalone> NotFound() =>
        new RazorComponentResult<Standalone>(new { Title = "Not found", Message = "There is no such object in this tenant." }) { StatusCode = StatusCodes.Status404NotFound };

    private static RazorComponentResult<Standalone> Forbidden(string why) =>
        new RazorComponentResult<Standalone>(new { Title = "Not allowed", Message = why }) { StatusCode = StatusCodes.Status403Forbidden };

    private static Results<Ok<DashboardSignInCode>, ProblemHttpResult> MintSignInCode(HttpContext context, SignInCodes codes)
    {
        var caller = context.Caller();
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            return Problems.Problem.Malformed("This route takes no body: POST it empty.");
        }
        if (caller.Role is not (Roles.Admin or Roles.Owner or Roles.Member or Roles.Viewer))
        {
            return Problems.Problem.Forbidden("Only a person's token (admin, owner, member, viewer) can sign in to the dashboard.");
        }
        var token = context.Request.Headers.Authorization.ToString()["Bearer ".Length..].Trim();
        var (code, expiresAt) = codes.Mint(token);
        var request = context.Request;
        return TypedResults.Ok(new DashboardSignInCode(code, $"{request.Scheme}://{request.Host}/ui/signin?code={code}", expiresAt));
    }

    /// <summary>
    /// <c>GET /ui/events/jobs?id=…</c>: server-sent events, one <c>status</c> event per change of a listed job's
    /// status (and, with <c>metrics=true</c>, a <c>metrics</c> event when its points grow), read from the store
    /// twice a second, and an <c>end</c> event once every listed job has ended. Another tenant's ids simply never
    /// produce an event.
    /// </summary>
    private static async Task JobEventsAsync(HttpContext context, Store store, CancellationToken cancellationToken)
    {
        var tenantId = context.Caller().TenantId;
        var ids = context.Request.Query["id"].Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).Distinct().Take(100).ToArray();
        var metrics = context.Request.Query["metrics"] == "true";
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-store";
        if (tenantId is null || ids.Length == 0) return;
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        long seenPoints = -1;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await using (var db = store.CreateContext())
                {
                    var rows = await db.Jobs.AsNoTracking().Where(j => j.TenantId == tenantId && ids.Contains(j.Id))
                        .Select(j => new { j.Id, j.Status, j.StatusReason }).ToListAsync(cancellationToken);
                    foreach (var row in rows)
                    {
                        var status = row.Status.ToString().ToLowerInvariant();
                        var text = StatusText.Of(status, row.StatusReason);
                        if (seen.GetValueOrDefault(row.Id) == text) continue;
                        seen[row.Id] = text;
                        await WriteEventAsync(context, "status", JsonSerializer.Serialize(new { id = row.Id, status, text }), cancellationToken);
                    }
                    // Every listed job has ended: nothing more will change (the script closes the stream rather than reconnect).
                    if (rows.Count > 0 && rows.All(r => r.Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Cancelled))
                    {
                        if (metrics) await WriteEventAsync(context, "metrics", "final", cancellationToken);
                        await WriteEventAsync(context, "end", "", cancellationToken);
                        return;
                    }
                    if (metrics)
                    {
                        var points = await db.MetricSeries.AsNoTracking().Where(s => s.TenantId == tenantId && ids.Contains(s.JobId)).SumAsync(s => (long)s.Count, cancellationToken);
                        if (points != seenPoints)
                        {
                            if (seenPoints >= 0) await WriteEventAsync(context, "metrics", points.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
                            seenPoints = points;
                        }
                    }
                }
                await Task.Delay(EventPoll, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The page went away.
        }
    }

    private static async Task WriteEventAsync(HttpContext context, string name, string data, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync($"event: {name}\ndata: {data}\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }
}
