using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Contracts;
using Strata.Server.Hosting;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Models;

/// <summary>
/// Issue 15, item 3: what a tenant can leave where the server opens files on its behalf (a FIFO, a socket, a
/// link, a hard link to another tenant's model, a folder, a device) is a 400 naming the field, and never holds
/// a server thread. Deadlines here are generous and only a hang reaches them; nothing is timed.
/// </summary>
public sealed class ModelFileTests(SqliteApp app) : IClassFixture<SqliteApp>
{
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    private string Area(string tenant, string relative = "") => Path.Combine(app.DataPath, "artifacts", tenant, relative);

    /// <summary>Writes a small file that looks like an ML.NET model (a zip) into the tenant's area; returns its path there.</summary>
    private string WriteModelFile(string tenant, string relative)
    {
        var path = Area(tenant, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, .. System.Text.Encoding.UTF8.GetBytes(relative)]);
        return relative;
    }

    private static async Task<HttpResponseMessage> RegisterAsync(HttpClient client, string model, object body) =>
        await client.PostAsJsonAsync($"/v1/models/{model}/versions", body).WaitAsync(Hang);

    private static async Task<JsonElement> RefusedAsync(HttpClient client, string path, string field = "path")
    {
        using var response = await RegisterAsync(client, "m", new { path, format = "mlnet" });
        return await Http.ExpectValidationAsync(response, field);
    }

    [Fact]
    public async Task A_fifo_registered_as_a_model_file_is_a_400_naming_the_path()
    {
        var (tenant, client) = await app.TenantClientAsync("fifo");
        using var _ = client;
        SpecialFiles.MakeFifo(Area(tenant, "out/model.zip"));
        var problem = await RefusedAsync(client, "out/model.zip");
        Assert.Contains("FIFO", problem.GetProperty("errors").GetProperty("path")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hundred_concurrent_fifo_registrations_are_all_400_and_the_server_answers_meanwhile()
    {
        var (tenant, client) = await app.TenantClientAsync("fifo-storm");
        var (other, neighbour) = await app.TenantClientAsync("fifo-neighbour");
        using var _ = client;
        using var _n = neighbour;
        using var anonymous = app.AnonymousClient();
        SpecialFiles.MakeFifo(Area(tenant, "out/model.zip"));
        var good = WriteModelFile(other, "out/good.zip");

        var attack = Enumerable.Range(0, 100).Select(_ => client.PostAsJsonAsync("/v1/models/m/versions", new { path = "out/model.zip" })).ToList();
        // While the attack is in flight: the health route and another tenant's registration answer.
        foreach (var route in new[] { "/health/live", "/v1/health" })
        {
            using var health = await anonymous.GetAsync(route).WaitAsync(Hang);
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        }
        using (var registered = await RegisterAsync(neighbour, "good", new { path = good }))
        {
            await Http.ExpectAsync(registered, 201);
        }

        var answers = await Task.WhenAll(attack).WaitAsync(Hang);
        foreach (var answer in answers)
        {
            using (answer) await Http.ExpectValidationAsync(answer, "path");
        }
        using var versions = await client.GetAsync("/v1/models/m");
        await Http.ExpectProblemAsync(versions, 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Links_folders_sockets_and_devices_are_refused_and_a_regular_file_is_registered()
    {
        var (tenant, client) = await app.TenantClientAsync("kinds");
        using var _ = client;
        var good = WriteModelFile(tenant, "out/good.zip");
        File.CreateSymbolicLink(Area(tenant, "out/link.zip"), Area(tenant, good));
        File.CreateSymbolicLink(Area(tenant, "out/zero.zip"), "/dev/zero");
        SpecialFiles.MakeFifo(Area(tenant, "out/pipe"));
        File.CreateSymbolicLink(Area(tenant, "out/pipe.zip"), Area(tenant, "out/pipe"));
        Directory.CreateDirectory(Area(tenant, "out/folder.zip"));
        using var socket = SpecialFiles.MakeSocket(Area(tenant, "out/socket.zip"));

        foreach (var (path, says) in new[]
        {
            ("out/link.zip", "symbolic link"), ("out/zero.zip", "symbolic link"), ("out/pipe.zip", "symbolic link"),
            ("out/folder.zip", "folder"), ("out/socket.zip", "socket"),
            // The data folder's devices are out of the path policy's reach by name.
            ("/dev/zero", "tenant's artifact area"),
        })
        {
            var problem = await RefusedAsync(client, path);
            Assert.Contains(says, problem.GetProperty("errors").GetProperty("path")[0].GetString(), StringComparison.Ordinal);
        }
        using var registered = await RegisterAsync(client, "m", new { path = good });
        Assert.Equal(1, (await Http.ExpectAsync(registered, 201)).GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task A_hard_link_to_another_tenants_model_is_refused_and_the_owner_keeps_its_model()
    {
        var (owner, teamA) = await app.TenantClientAsync("hard-a");
        var (thief, teamB) = await app.TenantClientAsync("hard-b");
        using var _a = teamA;
        using var _b = teamB;
        JsonElement secret;
        using (var registered = await RegisterAsync(teamA, "secret", new { path = WriteModelFile(owner, "out/secret.zip") }))
        {
            secret = await Http.ExpectAsync(registered, 201);
        }
        // A second name, in team-b's own area, for team-a's copy in the registry (same file system, same user).
        var registryCopy = secret.GetProperty("uri").GetString()!;
        SpecialFiles.MakeHardLink(registryCopy, Area(thief, "out/stolen.zip"));

        var problem = await RefusedAsync(teamB, "out/stolen.zip");
        Assert.Contains("hard links", problem.GetProperty("errors").GetProperty("path")[0].GetString(), StringComparison.Ordinal);
        using (var none = await teamB.GetAsync("/v1/models/m"))
        {
            await Http.ExpectProblemAsync(none, 404, ProblemTypes.NotFound);
        }
        // Within a tenant's own area too: a file with two names is not registered.
        SpecialFiles.MakeHardLink(Area(owner, "out/secret.zip"), Area(owner, "out/again.zip"));
        await RefusedAsync(teamA, "out/again.zip");

        using var own = await teamA.GetAsync("/v1/models/secret/versions/1");
        Assert.Equal(secret.GetProperty("sha256").GetString(), (await Http.ExpectAsync(own, 200)).GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task A_job_naming_a_fifo_as_its_data_or_output_is_refused_at_submission()
    {
        var (tenant, client) = await app.TenantClientAsync("job-fifo");
        using var _ = client;
        SpecialFiles.MakeFifo(Area(tenant, "data.csv"));
        File.CreateSymbolicLink(Area(tenant, "linked.csv"), Area(tenant, "data.csv"));
        SpecialFiles.MakeFifo(Area(tenant, "output"));
        using var socket = SpecialFiles.MakeSocket(Area(tenant, "repo"));

        foreach (var (spec, field) in new (object, string)[]
        {
            (new { name = "fifo-data", entrypoint = "true", data_path = "data.csv" }, "data_path"),
            (new { name = "linked-data", entrypoint = "true", data_path = "linked.csv" }, "data_path"),
            (new { name = "fifo-output", entrypoint = "true", model_output_path = "output" }, "model_output_path"),
            (new { name = "socket-repo", entrypoint = "true", code_repo = Area(tenant, "repo") }, "code_repo"),
        })
        {
            using var response = await client.PostAsJsonAsync("/v1/jobs/training", spec, Http.Json).WaitAsync(Hang);
            await Http.ExpectValidationAsync(response, field);
        }
        using var list = await client.GetAsync("/v1/jobs/training");
        Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
    }

    [Fact]
    public async Task A_fifo_left_as_a_jobs_data_after_submission_leaves_its_lineage_without_a_hash()
    {
        var (tenant, client) = await app.TenantClientAsync("late-fifo");
        using var _ = client;
        var id = (await StrataApp.SubmitAsync(client, new { name = "later", entrypoint = "true", data_path = "later.csv" })).GetProperty("id").GetString()!;
        SpecialFiles.MakeFifo(Area(tenant, "later.csv"));

        using var registered = await RegisterAsync(client, "m", new { path = WriteModelFile(tenant, "out/m.zip"), job_id = id });
        var lineage = (await Http.ExpectAsync(registered, 201)).GetProperty("lineage");
        Assert.Equal(Area(tenant, "later.csv"), lineage.GetProperty("data_path").GetString());
        Assert.False(lineage.TryGetProperty("data_sha256", out var hash) && hash.ValueKind == JsonValueKind.String);
    }
}

/// <summary>A server whose file work has one slot and a 5 s bound, so that a test can hold the slot.</summary>
public sealed class OneFileSlotApp : StrataApp
{
    public OneFileSlotApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Files:MaxConcurrent"] = "1", ["Files:TimeoutSeconds"] = "5" }) { }
}

/// <summary>A disk that does not answer gives a 503 with Retry-After, and the server goes on once it answers.</summary>
public sealed class FileWorkLimitTests(OneFileSlotApp app) : IClassFixture<OneFileSlotApp>
{
    [Fact]
    public async Task Registration_is_a_503_with_retry_after_while_the_file_work_is_stuck_and_a_201_once_it_ends()
    {
        var (tenant, client) = await app.TenantClientAsync("stuck");
        using var _ = client;
        var path = Path.Combine(app.DataPath, "artifacts", tenant, "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, [(byte)'P', (byte)'K', 3, 4, 9]);

        // A read stuck on the disk holds the one slot.
        var disk = new TaskCompletionSource<int>();
        var stuck = app.Services.GetRequiredService<FileWork>().RunAsync("reading from a stuck disk", _ => disk.Task, CancellationToken.None);

        using (var refused = await client.PostAsJsonAsync("/v1/models/m/versions", new { path = "model.zip" }))
        {
            var problem = await Http.ExpectProblemAsync(refused, 503, ProblemTypes.Unavailable);
            Assert.Contains("Files:TimeoutSeconds", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"Retry-After: {refused.Headers.RetryAfter}");
        }
        await Assert.ThrowsAsync<FileWorkTimeoutException>(() => stuck);

        disk.SetResult(0);
        using var registered = await client.PostAsJsonAsync("/v1/models/m/versions", new { path = "model.zip" });
        await Http.ExpectAsync(registered, 201);
    }
}
