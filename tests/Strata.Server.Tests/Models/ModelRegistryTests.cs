using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Strata.Contracts;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Models;

/// <summary>The model registry on every store: numbering, aliases, lineage, job tokens, tenancy.</summary>
public abstract class ModelRegistryTests<TApp>(TApp app) : IClassFixture<TApp>
    where TApp : StrataApp
{
    /// <summary>Writes a small file that looks like an ML.NET model (a zip) into the tenant's area; returns its relative path.</summary>
    private string WriteModelFile(string tenant, string name, string content = "weights")
    {
        var path = Path.Combine(app.DataPath, "artifacts", tenant, "out", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [(byte)'P', (byte)'K', 3, 4, .. System.Text.Encoding.UTF8.GetBytes(content)]);
        return $"out/{name}";
    }

    private static async Task<JsonElement> RegisterAsync(HttpClient client, string model, object body, int status = 201)
    {
        using var response = await client.PostAsJsonAsync($"/v1/models/{model}/versions", body);
        return await Http.ExpectAsync(response, status);
    }

    [SkippableFact]
    public async Task Concurrent_registrations_get_consecutive_versions_and_aliases_name_them()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("registry");
        using var _ = client;
        using (var created = await client.PostAsJsonAsync("/v1/models", new { name = "churn", description = "who leaves" }))
        {
            Assert.Equal("churn", (await Http.ExpectAsync(created, 201)).GetProperty("name").GetString());
        }
        using (var again = await client.PostAsJsonAsync("/v1/models", new { name = "churn" }))
        {
            await Http.ExpectProblemAsync(again, 409, ProblemTypes.Conflict);
        }

        var files = Enumerable.Range(0, 6).Select(i => WriteModelFile(tenant, $"m{i}.zip", $"weights {i}")).ToList();
        var versions = await Task.WhenAll(files.Select(f => RegisterAsync(client, "churn", new { path = f, metrics = new { auc = 0.8 } })));

        Assert.Equal(Enumerable.Range(1, 6), versions.Select(v => v.GetProperty("version").GetInt32()).Order());
        Assert.All(versions, v => Assert.Equal("mlnet", v.GetProperty("format").GetString()));
        using (var list = await client.GetAsync("/v1/models/churn/versions?limit=4"))
        {
            Assert.Equal([6, 5, 4, 3], (await Http.ExpectAsync(list, 200)).EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
            using var next = await client.GetAsync(Http.NextLink(list)!);
            Assert.Equal([2, 1], (await Http.ExpectAsync(next, 200)).EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        }

        using (var put = await client.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 2 }))
        {
            Assert.Equal(2, (await Http.ExpectAsync(put, 200)).GetProperty("aliases").GetProperty("production").GetInt32());
        }
        using (var get = await client.GetAsync("/v1/models/churn/versions/production"))
        {
            var version = await Http.ExpectAsync(get, 200);
            Assert.Equal(2, version.GetProperty("version").GetInt32());
            Assert.Equal(["production"], version.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
            var file = version.GetProperty("uri").GetString()!;
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))), version.GetProperty("sha256").GetString());
            Assert.DoesNotContain(Path.Combine(app.DataPath, "artifacts"), file, StringComparison.Ordinal);
        }
        using (var latest = await client.GetAsync("/v1/models/churn/versions/latest"))
        {
            var version = await Http.ExpectAsync(latest, 200);
            Assert.Equal(6, version.GetProperty("version").GetInt32());
            Assert.Contains("latest", version.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        }
        using (var model = await client.GetAsync("/v1/models/churn"))
        {
            var body = await Http.ExpectAsync(model, 200);
            Assert.Equal(6, body.GetProperty("latest_version").GetInt32());
            Assert.Equal("who leaves", body.GetProperty("description").GetString());
        }
        using (var moved = await client.PutAsJsonAsync("/v1/models/churn/aliases/production", new { version = 3 }))
        {
            await Http.ExpectAsync(moved, 200);
        }
        using (var get = await client.GetAsync("/v1/models/churn/versions/production"))
        {
            Assert.Equal(3, (await Http.ExpectAsync(get, 200)).GetProperty("version").GetInt32());
        }
        using (var delete = await client.DeleteAsync("/v1/models/churn/aliases/production"))
        {
            Assert.Equal(204, (int)delete.StatusCode);
        }
        using (var gone = await client.GetAsync("/v1/models/churn/versions/production"))
        {
            await Http.ExpectProblemAsync(gone, 404, ProblemTypes.NotFound);
        }
        using (var deleteAgain = await client.DeleteAsync("/v1/models/churn/aliases/production"))
        {
            await Http.ExpectProblemAsync(deleteAgain, 404, ProblemTypes.NotFound);
        }
    }

    [SkippableFact]
    public async Task A_version_records_the_lineage_of_the_job_that_made_it()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("lineage");
        using var _ = client;
        var data = Path.Combine(app.DataPath, "artifacts", tenant, "train.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        await File.WriteAllTextAsync(data, "x,y\n1,2\n");
        // The code: a repository in the tenant's own area (a server clones no remote hosts by default).
        var repo = Directory.CreateDirectory(Path.Combine(app.DataPath, "artifacts", tenant, "repos", "churn")).FullName;
        Artifacts.CodeRepoTests.Git(repo, "init", "--quiet");
        await File.WriteAllTextAsync(Path.Combine(repo, "train.py"), "print('hi')\n");
        Artifacts.CodeRepoTests.Git(repo, "add", "train.py");
        Artifacts.CodeRepoTests.Git(repo, "commit", "--quiet", "-m", "one");
        var commit = Artifacts.CodeRepoTests.Git(repo, "rev-parse", "HEAD");
        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "custom", entrypoint = "true", data_path = "train.csv", docker_image = "python:3.12",
            code_repo = repo, code_commit = commit, hyperparameters = new { lr = 0.1 },
        });
        var id = job.GetProperty("id").GetString()!;
        await StrataApp.WaitForStatusAsync(client, id, "succeeded");

        var version = await RegisterAsync(client, "custom", new
        {
            path = WriteModelFile(tenant, "model.onnx.zip"), format = "mlnet", job_id = id,
            metrics = new { rmse = 1.5 }, input_schema = new { columns = new[] { new { name = "x", type = "numeric" } } },
        });

        var lineage = version.GetProperty("lineage");
        Assert.Equal(id, lineage.GetProperty("job_id").GetString());
        Assert.Equal(data, lineage.GetProperty("data_path").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data))), lineage.GetProperty("data_sha256").GetString());
        Assert.Equal("true", lineage.GetProperty("entrypoint").GetString());
        Assert.Equal("python:3.12", lineage.GetProperty("docker_image").GetString());
        Assert.Equal(repo, lineage.GetProperty("code_repo").GetString());
        Assert.Equal(commit, lineage.GetProperty("code_commit").GetString());
        Assert.Equal(0.1, lineage.GetProperty("hyperparameters").GetProperty("lr").GetDouble());
        Assert.Equal(1.5, version.GetProperty("metrics").GetProperty("rmse").GetDouble());
        Assert.Equal("x", version.GetProperty("input_schema").GetProperty("columns")[0].GetProperty("name").GetString());
    }

    [SkippableFact]
    public async Task A_built_in_trainer_job_registers_its_model_when_it_succeeds()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("builtin");
        using var _ = client;
        var data = Path.Combine(app.DataPath, "artifacts", tenant, "churn.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        File.Copy(RepositoryFile("examples/churn/churn.csv"), data);

        var job = await StrataApp.SubmitAsync(client, new
        {
            name = "churn", model = "lightgbm", label = "churned", data_path = "churn.csv",
            hyperparameters = new { num_leaves = 15, learning_rate = 0.05 },
        });
        Assert.Null(job.GetProperty("spec").GetProperty("entrypoint").GetString());
        var done = await StrataApp.WaitForEndAsync(client, job.GetProperty("id").GetString()!, TimeSpan.FromMinutes(3));

        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());
        Assert.Equal("churn@1", done.GetProperty("output").GetProperty("model_version").GetString());
        using var get = await client.GetAsync("/v1/models/churn/versions/1");
        var version = await Http.ExpectAsync(get, 200);
        Assert.Equal("mlnet", version.GetProperty("format").GetString());
        Assert.True(version.GetProperty("metrics").GetProperty("auc").GetDouble() >= 0.8);
        var lineage = version.GetProperty("lineage");
        Assert.Equal("lightgbm", lineage.GetProperty("trainer").GetString());
        Assert.Equal(done.GetProperty("id").GetString(), lineage.GetProperty("job_id").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data))), lineage.GetProperty("data_sha256").GetString());
        // The hyperparameters the trainer used: those given, and the defaults of the others.
        var hyperparameters = lineage.GetProperty("hyperparameters");
        Assert.Equal(0.05, hyperparameters.GetProperty("learning_rate").GetDouble());
        Assert.Equal(15, hyperparameters.GetProperty("num_leaves").GetInt32());
        Assert.Equal(100, hyperparameters.GetProperty("num_iterations").GetInt32());
        var schema = version.GetProperty("input_schema");
        Assert.Equal("binary", schema.GetProperty("task").GetString());
        Assert.Contains(schema.GetProperty("columns").EnumerateArray(), c => c.GetProperty("name").GetString() == "plan" && c.GetProperty("type").GetString() == "categorical");
        Assert.True(File.Exists(version.GetProperty("uri").GetString()));
    }

    [SkippableFact]
    public async Task A_built_in_trainer_job_that_cannot_train_fails_naming_the_column()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("badlabel");
        using var _ = client;
        var data = Path.Combine(app.DataPath, "artifacts", tenant, "data.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        await File.WriteAllTextAsync(data, "a,b\n1,2\n3,4\n");

        var job = await StrataApp.SubmitAsync(client, new { name = "nolabel", model = "lightgbm", label = "churned", data_path = "data.csv" });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id, TimeSpan.FromMinutes(2));

        Assert.Equal("failed", done.GetProperty("status").GetString());
        // The trainer's own words are the job's error, where the user looks first, not only in the log.
        Assert.Equal($"exited with code 1: strata-worker train: {data}: the label column 'churned' is not in the data; its columns are: a, b (user_error: not retried)",
            done.GetProperty("error_message").GetString());
        using var logs = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.Contains("the label column 'churned' is not in the data; its columns are: a, b", await logs.Content.ReadAsStringAsync());
        using var models = await client.GetAsync("/v1/models");
        Assert.Empty((await Http.ExpectAsync(models, 200)).EnumerateArray());
    }

    [SkippableFact]
    public async Task A_running_job_registers_with_its_own_token_for_itself_only()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("jobtoken");
        using var _ = client;
        var other = (await StrataApp.SubmitAsync(client, new { name = "other", entrypoint = "true" })).GetProperty("id").GetString()!;
        var job = await StrataApp.SubmitAsync(client, new { name = "writer", entrypoint = "printf %s \"$STRATA_JOB_TOKEN\" > \"$MODEL_OUTPUT_PATH/token\"; sleep 60" });
        var id = job.GetProperty("id").GetString()!;
        var tokenFile = Path.Combine(job.GetProperty("spec").GetProperty("model_output_path").GetString()!, "token");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(File.Exists(tokenFile) && new FileInfo(tokenFile).Length > 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
        using var jobClient = app.ClientFor(await File.ReadAllTextAsync(tokenFile));
        var file = WriteModelFile(tenant, "job.zip");

        // Metrics the job reported are the version's when the registration gives none.
        using (var report = await jobClient.PostAsJsonAsync($"/v1/jobs/training/{id}/metrics", new[] { new { name = "auc", value = 0.5, step = 1 }, new { name = "auc", value = 0.75, step = 2 } }))
        {
            Assert.True(report.IsSuccessStatusCode, await report.Content.ReadAsStringAsync());
        }
        var version = await RegisterAsync(jobClient, "from-job", new { path = file });
        Assert.Equal(id, version.GetProperty("lineage").GetProperty("job_id").GetString());
        Assert.Equal(0.75, version.GetProperty("metrics").GetProperty("auc").GetDouble());

        using (var forOther = await jobClient.PostAsJsonAsync("/v1/models/from-job/versions", new { path = file, job_id = other }))
        {
            await Http.ExpectProblemAsync(forOther, 403, ProblemTypes.Forbidden);
        }
        using (var read = await jobClient.GetAsync("/v1/models"))
        {
            await Http.ExpectProblemAsync(read, 403, ProblemTypes.Forbidden);
        }
        using (var alias = await jobClient.PutAsJsonAsync("/v1/models/from-job/aliases/production", new { version = 1 }))
        {
            await Http.ExpectProblemAsync(alias, 403, ProblemTypes.Forbidden);
        }
        using (var cancel = await client.DeleteAsync($"/v1/jobs/training/{id}"))
        {
            Assert.Equal(204, (int)cancel.StatusCode);
        }
        // The token died with its cancelled job's attempt.
        using var afterwards = await jobClient.PostAsJsonAsync("/v1/models/from-job/versions", new { path = file });
        await Http.ExpectProblemAsync(afterwards, 401, ProblemTypes.Unauthenticated);
    }

    [SkippableFact]
    public async Task Another_tenants_models_are_404_and_its_files_and_jobs_are_out_of_reach()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenantA, teamA) = await app.TenantClientAsync("models-a");
        var (_, teamB) = await app.TenantClientAsync("models-b", Roles.Owner);
        using var _a = teamA;
        using var _b = teamB;
        var fileA = WriteModelFile(tenantA, "secret.zip");
        await RegisterAsync(teamA, "secret", new { path = fileA });
        using (var alias = await teamA.PutAsJsonAsync("/v1/models/secret/aliases/production", new { version = 1 }))
        {
            await Http.ExpectAsync(alias, 200);
        }
        var jobA = (await StrataApp.SubmitAsync(teamA, new { name = "a-job", entrypoint = "true" })).GetProperty("id").GetString()!;

        foreach (var route in new[] { "/v1/models/secret", "/v1/models/secret/versions", "/v1/models/secret/versions/1", "/v1/models/secret/versions/production", "/v1/models/secret/versions/latest" })
        {
            using var response = await teamB.GetAsync(route);
            await Http.ExpectProblemAsync(response, 404, ProblemTypes.NotFound);
        }
        using (var put = await teamB.PutAsJsonAsync("/v1/models/secret/aliases/staging", new { version = 1 }))
        {
            await Http.ExpectProblemAsync(put, 404, ProblemTypes.NotFound);
        }
        using (var delete = await teamB.DeleteAsync("/v1/models/secret/aliases/production"))
        {
            await Http.ExpectProblemAsync(delete, 404, ProblemTypes.NotFound);
        }
        using (var list = await teamB.GetAsync("/v1/models"))
        {
            Assert.Empty((await Http.ExpectAsync(list, 200)).EnumerateArray());
        }
        var absoluteA = Path.Combine(app.DataPath, "artifacts", tenantA, fileA);
        using (var steal = await teamB.PostAsJsonAsync("/v1/models/stolen/versions", new { path = absoluteA }))
        {
            await Http.ExpectValidationAsync(steal, "path");
        }
        using (var escape = await teamB.PostAsJsonAsync("/v1/models/stolen/versions", new { path = $"../{tenantA}/{fileA}" }))
        {
            await Http.ExpectValidationAsync(escape, "path");
        }
        using (var lineage = await teamB.PostAsJsonAsync("/v1/models/stolen/versions", new { path = "x.zip", job_id = jobA }))
        {
            await Http.ExpectValidationAsync(lineage, "job_id");
        }
        using (var listB = await teamB.GetAsync("/v1/models"))
        {
            Assert.Empty((await Http.ExpectAsync(listB, 200)).EnumerateArray());
        }
        // team-a still sees its model as it was.
        using var own = await teamA.GetAsync("/v1/models/secret");
        Assert.Equal(1, (await Http.ExpectAsync(own, 200)).GetProperty("aliases").GetProperty("production").GetInt32());
    }

    [SkippableFact]
    public async Task Bad_registrations_are_refused_naming_the_field_and_store_nothing()
    {
        Skip.If(app.SkipReason is not null, app.SkipReason);
        var (tenant, client) = await app.TenantClientAsync("badreg");
        using var _ = client;
        var good = WriteModelFile(tenant, "good.zip");
        var notZip = Path.Combine(app.DataPath, "artifacts", tenant, "out", "fake.zip");
        await File.WriteAllTextAsync(notZip, "not a zip");
        var link = Path.Combine(app.DataPath, "artifacts", tenant, "out", "link.zip");
        File.CreateSymbolicLink(link, "/etc/passwd");

        (string Model, object Body, string Field)[] cases =
        [
            ("Bad_Name", new { path = good }, "name"),
            ("ok", new { format = "mlnet" }, "path"),
            ("ok", new { path = "out/model.bin" }, "format"),
            ("ok", new { path = good, format = "pickle" }, "format"),
            ("ok", new { path = "out/fake.zip" }, "path"),
            ("ok", new { path = "out/good.zip", format = "onnx" }, "path"),
            ("ok", new { path = "out/missing.zip" }, "path"),
            ("ok", new { path = "out/link.zip" }, "path"),
            ("ok", new { path = "out" , format = "mlnet" }, "path"),
            ("ok", new { path = "/etc/passwd", format = "mlnet" }, "path"),
            ("ok", new { path = good, input_schema = new[] { 1 } }, "input_schema"),
        ];
        foreach (var (model, body, field) in cases)
        {
            using var response = await client.PostAsJsonAsync($"/v1/models/{model}/versions", body);
            await Http.ExpectValidationAsync(response, field);
        }
        await RegisterAsync(client, "ok", new { path = good });
        foreach (var (alias, body, field) in new (string, object, string)[]
        {
            ("latest", new { version = 1 }, "alias"), ("7", new { version = 1 }, "alias"), ("Prod", new { version = 1 }, "alias"),
            ("production", new { version = 2 }, "version"), ("production", new { }, "version"),
        })
        {
            using var response = await client.PutAsJsonAsync($"/v1/models/ok/aliases/{alias}", body);
            await Http.ExpectValidationAsync(response, field);
        }
        using var versions = await client.GetAsync("/v1/models/ok/versions");
        Assert.Single((await Http.ExpectAsync(versions, 200)).EnumerateArray());
        using var model2 = await client.GetAsync("/v1/models/ok");
        Assert.Empty((await Http.ExpectAsync(model2, 200)).GetProperty("aliases").EnumerateObject());
    }

    private static string RepositoryFile(string relative)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return Path.Combine(directory!.FullName, relative);
    }
}

public sealed class SqliteModelRegistryTests(SqliteApp app) : ModelRegistryTests<SqliteApp>(app);

public sealed class PostgresModelRegistryTests(PostgresApp app) : ModelRegistryTests<PostgresApp>(app);
