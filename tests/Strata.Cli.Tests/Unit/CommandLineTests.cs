using System.Net;
using System.Text.Json;
using Spectre.Console.Testing;
using Strata.Cli.Tests.Support;
using Strata.Contracts;

namespace Strata.Cli.Tests.Unit;

/// <summary>Command lines parsed by the real command tree, against a stub server.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string JobJson(string name) => $$"""
        {"id":"job-1","spec":{"name":"{{name}}"},"status":"pending","created_at":"2025-01-01T00:00:00Z","started_at":null,
         "completed_at":null,"error_message":null,"kubernetes_job_name":null,"metrics":{},"status_reason":"waiting_for_capacity",
         "attempts":0,"runtime":null,"queue_position":1,"output":null}
        """;

    private (CliHarness Cli, StubHandler Server, List<string> Bodies) WithStubServer()
    {
        var bodies = new List<string>();
        var server = new StubHandler(request =>
        {
            var body = request.Content?.ReadAsStringAsync().GetAwaiter().GetResult() ?? "";
            bodies.Add(body);
            var name = body.Length > 0 ? JsonDocument.Parse(body).RootElement.GetProperty("name").GetString()! : "x";
            return StubHandler.Json(HttpStatusCode.Created, JobJson(name));
        });
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test", ["STRATA_TOKEN"] = "t" });
        return (cli, server, bodies);
    }

    [Fact]
    public async Task Submit_sends_the_spec_built_from_its_flags()
    {
        var (cli, server, bodies) = WithStubServer();

        var result = await cli.RunAsync(
            "jobs", "submit", "--name", "churn", "--entrypoint", "python train.py", "--cpu", "2", "--memory", "4",
            "-p", "lr=0.01", "--hyperparameter", "optimizer=adam", "-p", "shuffle=true", "-e", "MODE=fast", "--env", "X=1",
            "--priority", "-3", "--timeout", "10m", "--max-attempts", "2");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(HttpMethod.Post, server.Requests.Single().Method);
        Assert.Equal("/v1/jobs/training", server.Requests.Single().RequestUri!.AbsolutePath);
        var spec = JsonSerializer.Deserialize<TrainingJobSpec>(bodies.Single(), StrataJson.Options)!;
        Assert.Equal("churn", spec.Name);
        Assert.Equal(2, spec.Compute!.CpuCores);
        Assert.Equal(4, spec.Compute.MemoryGb);
        Assert.Equal(JsonValueKind.Number, spec.Hyperparameters!["lr"].ValueKind);
        Assert.Equal(JsonValueKind.True, spec.Hyperparameters["shuffle"].ValueKind);
        Assert.Equal("adam", spec.Hyperparameters["optimizer"].GetString());
        Assert.Equal(new Dictionary<string, string> { ["MODE"] = "fast", ["X"] = "1" }, spec.EnvVars);
        Assert.Equal(-3, spec.Priority);
        Assert.Equal(600, spec.TimeoutSeconds);
        Assert.Equal(2, spec.Retry!.MaxAttempts);
        Assert.Contains("job-1", result.Out);
    }

    [Fact]
    public async Task Submit_reads_a_YAML_file_and_lets_flags_override_it()
    {
        var (cli, _, bodies) = WithStubServer();
        _dir.File("spec.yaml", "name: from-file\nentrypoint: echo file\ncompute:\n  cpu_cores: 8\n");

        var result = await cli.RunAsync("jobs", "submit", "-f", "spec.yaml", "--entrypoint", "echo flag");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        var spec = JsonSerializer.Deserialize<TrainingJobSpec>(bodies.Single(), StrataJson.Options)!;
        Assert.Equal("from-file", spec.Name);
        Assert.Equal("echo flag", spec.Entrypoint);
        Assert.Equal(8, spec.Compute!.CpuCores);
    }

    [Fact]
    public async Task Submit_with_json_output_prints_the_APIs_snake_case_JSON()
    {
        var (cli, _, _) = WithStubServer();

        var result = await cli.RunAsync("jobs", "submit", "--name", "j", "-o", "json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using var document = JsonDocument.Parse(result.Out);
        Assert.Equal("job-1", document.RootElement.GetProperty("id").GetString());
        Assert.Equal("waiting_for_capacity", document.RootElement.GetProperty("status_reason").GetString());
        Assert.Equal(1, document.RootElement.GetProperty("queue_position").GetInt32());
    }

    [Theory]
    [InlineData("jobs", "submit", "--name", "x", "--cpu", "many")]
    [InlineData("jobs", "submit", "--name", "x", "-p", "no-equals")]
    [InlineData("jobs", "submit", "--name", "x", "-e", "1X=2")]
    [InlineData("jobs", "submit", "--name", "x", "--timeout", "soon")]
    [InlineData("jobs", "submit", "--entrypoint", "echo no name")]
    [InlineData("jobs", "submit", "-f", "missing.json")]
    [InlineData("jobs", "submit", "--name", "x", "--no-such-flag")]
    [InlineData("jobs", "list", "--status", "sleeping")]
    [InlineData("jobs", "list", "--limit", "0")]
    [InlineData("jobs", "list", "--limit", "-3")]
    [InlineData("jobs", "get")]
    [InlineData("jobs", "list", "-o", "xml")]
    [InlineData("tokens", "create", "team-a", "--role", "king")]
    [InlineData("tokens", "create", "team-a", "--role", "metrics-reader")]
    [InlineData("tokens", "create", "--role", "member")]
    [InlineData("frobnicate")]
    [InlineData("deploy", "churn", "--scaling-mode", "memory")]
    public async Task Bad_input_is_a_usage_error_and_never_reaches_the_server(params string[] args)
    {
        var factory = new NoServerFactory();
        var cli = new CliHarness(factory, _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test", ["STRATA_TOKEN"] = "t" });

        var result = await cli.RunAsync(args);

        Assert.True(result.ExitCode == ExitCodes.UsageError, result.ToString());
        Assert.StartsWith("error: ", result.Error);
        Assert.Equal(0, factory.Calls);
    }

    /// <summary>Every command's every numeric option, as <c>strata &lt;command&gt; --option x</c> and <c>0</c>.</summary>
    public static TheoryData<string[]> NumericOptions()
    {
        var app = new CliApp(new CliContext(new TestConsole(), new TestConsole(), new NoServerFactory(), _ => null, Environment.CurrentDirectory));
        var data = new TheoryData<string[]>();
        void Walk(System.CommandLine.Command command, List<string> path)
        {
            foreach (var option in command.Options)
            {
                var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
                if (type == typeof(int) || type == typeof(long) || type == typeof(double))
                {
                    // A word for each argument, so that the option's error is not behind a missing argument's.
                    data.Add([.. path, .. command.Arguments.Select(_ => "a"), option.Name, "x"]);
                }
            }
            foreach (var sub in command.Subcommands) Walk(sub, [.. path, sub.Name]);
        }
        Walk(app.Root, []);
        return data;
    }

    [Theory]
    [MemberData(nameof(NumericOptions))]
    public async Task A_word_given_to_any_numeric_option_is_a_usage_error_naming_it(string[] args)
    {
        var factory = new NoServerFactory();
        var cli = new CliHarness(factory, _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test", ["STRATA_TOKEN"] = "t" });

        var result = await cli.RunAsync(args);

        Assert.True(result.ExitCode == ExitCodes.UsageError, result.ToString());
        Assert.Contains($"error: {args[^2]} expects ", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, factory.Calls);
    }

    [Fact]
    public async Task A_bad_output_format_is_one_line_naming_the_choices()
    {
        var factory = new NoServerFactory();
        var cli = new CliHarness(factory, _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test", ["STRATA_TOKEN"] = "t" });

        var result = await cli.RunAsync("jobs", "list", "-o", "xml");

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Contains("error: -o \"xml\" is not an output format; choose table, wide, json, yaml, name\n", result.Error);
        Assert.Equal(0, factory.Calls);
    }

    [Fact]
    public async Task A_validation_error_prints_one_line_per_field()
    {
        var server = new StubHandler(_ => StubHandler.Problem(HttpStatusCode.BadRequest, """
            {"type":"urn:strata:problem:validation","title":"The job spec is invalid.","status":400,
             "detail":"2 fields are invalid.","errors":{"name":["must be a DNS-1123 label"],"compute.cpu_cores":["must be 1 to 96"]}}
            """));
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test" });

        var result = await cli.RunAsync("jobs", "submit", "--name", "Bad_Name", "--cpu", "500");

        Assert.Equal(ExitCodes.ApiError, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            ["error: 2 fields are invalid. (400)", "error: compute.cpu_cores: must be 1 to 96", "error: name: must be a DNS-1123 label"],
            lines);
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound, ExitCodes.NotFound, "error: job \"nope\" not found (404)")]
    [InlineData(HttpStatusCode.Unauthorized, ExitCodes.Unauthorized, "error: Token expired. (401); run 'strata login' with a valid token")]
    [InlineData(HttpStatusCode.Forbidden, ExitCodes.Unauthorized, "error: Token expired. (403)")]
    [InlineData(HttpStatusCode.InternalServerError, ExitCodes.ApiError, "error: Token expired. (500)")]
    public async Task API_errors_become_one_line_and_a_named_exit_code(HttpStatusCode status, int exitCode, string line)
    {
        var server = new StubHandler(_ => StubHandler.Problem(status, $$"""{"type":"urn:x","title":"T","status":{{(int)status}},"detail":"Token expired."}"""));
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test" });

        var result = await cli.RunAsync("jobs", "get", "nope");

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Equal(line, result.Error.TrimEnd());
    }

    [Fact]
    public async Task A_command_without_a_configured_server_says_how_to_log_in()
    {
        var cli = new CliHarness(new NoServerFactory(), _dir.File("config.json"));

        var result = await cli.RunAsync("jobs", "list");

        Assert.Equal(ExitCodes.Unauthorized, result.ExitCode);
        Assert.Contains("strata login", result.Error);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_connection_error_naming_the_URL()
    {
        var cli = new CliHarness(new HttpStrataClientFactory(), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://127.0.0.1:1" });

        var result = await cli.RunAsync("jobs", "list");

        Assert.Equal(ExitCodes.ConnectionError, result.ExitCode);
        Assert.Contains("http://127.0.0.1:1", result.Error);
    }

    [Fact]
    public async Task Tokens_create_prints_only_the_token_unwrapped()
    {
        var token = "eyJ" + new string('a', 600);
        string? body = null;
        var server = new StubHandler(request =>
        {
            body = request.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
            return StubHandler.Json(HttpStatusCode.Created,
                $$"""{"token":"{{token}}","tenant_id":"team-a","role":"member","expires_at":"2030-01-01T00:00:00Z"}""");
        });
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test" });

        var result = await cli.RunAsync("tokens", "create", "team-a", "--role", "owner", "--expires-in-days", "7");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(token + "\n", result.Out);
        Assert.Equal("/v1/tenants/team-a/tokens", server.Requests.Single().RequestUri!.AbsolutePath);
        Assert.Equal("""{"role":"owner","expires_in_days":7,"subject":null}""", body);
    }

    [Fact]
    public async Task Tokens_create_issues_a_metrics_reader_token_of_no_tenant()
    {
        var token = "eyJ" + new string('m', 300);
        string? body = null;
        var server = new StubHandler(request =>
        {
            body = request.Content!.ReadAsStringAsync().GetAwaiter().GetResult();
            return StubHandler.Json(HttpStatusCode.Created,
                $$"""{"token":"{{token}}","role":"metrics-reader","expires_at":"2030-01-01T00:00:00Z"}""");
        });
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test" });

        var result = await cli.RunAsync("tokens", "create", "--role", "metrics-reader", "--expires-in-days", "365", "--subject", "prometheus");

        Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        Assert.Equal(token + "\n", result.Out);
        Assert.Equal("/v1/admin/tokens", server.Requests.Single().RequestUri!.AbsolutePath);
        Assert.Equal("""{"role":"metrics-reader","expires_in_days":365,"subject":"prometheus"}""", body);
    }

    [Fact]
    public async Task A_bare_strata_or_command_group_prints_its_help()
    {
        var (cli, server, _) = WithStubServer();

        var bare = await cli.RunAsync();
        var jobs = await cli.RunAsync("jobs");

        Assert.Equal(ExitCodes.Success, bare.ExitCode);
        Assert.Contains("Usage:", bare.Out);
        Assert.Contains("jobs", bare.Out);
        Assert.Equal(ExitCodes.Success, jobs.ExitCode);
        Assert.Contains("Submit and follow training jobs", jobs.Out);
        Assert.Contains("wait <id>", jobs.Out);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Deploy_sends_the_scaling_mode_and_cpu_target_when_it_creates_and_when_it_changes()
    {
        var deployment = JsonSerializer.Serialize(new Deployment
        {
            Name = "churn", Model = "churn@1", ModelName = "churn", ModelVersion = 1, Status = DeploymentStatuses.Pending,
            Compute = new DeploymentCompute { CpuCores = 1, MemoryGb = 1 }, MinReplicas = 1, MaxReplicas = 4,
            Scaling = new DeploymentScaling { Mode = ScalingModes.Cpu, TargetInFlight = 8, TargetCpuPercent = 60 },
            DesiredReplicas = 1, ReadyReplicas = 0, EndpointUrl = "/v1/deployments/churn/predict", CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
        }, StrataJson.Options);
        var bodies = new List<string>();
        var server = new StubHandler(request =>
        {
            bodies.Add(request.Content!.ReadAsStringAsync().GetAwaiter().GetResult());
            return StubHandler.Json(request.Method == HttpMethod.Post ? HttpStatusCode.Created : HttpStatusCode.OK, deployment);
        });
        var cli = new CliHarness(new HandlerFactory(server), _dir.File("config.json"), _dir.Path,
            new Dictionary<string, string?> { ["STRATA_URL"] = "http://strata.test", ["STRATA_TOKEN"] = "t" });

        var created = await cli.RunAsync("deploy", "churn", "--model", "churn@1", "--scaling-mode", "cpu", "--target-cpu-percent", "60");
        var changed = await cli.RunAsync("deploy", "churn", "--scaling-mode", "in_flight");

        Assert.True(created.ExitCode == ExitCodes.Success, created.ToString());
        Assert.True(changed.ExitCode == ExitCodes.Success, changed.ToString());
        Assert.Equal([(HttpMethod.Post, "/v1/deployments"), (HttpMethod.Patch, "/v1/deployments/churn")],
            server.Requests.Select(r => (r.Method, r.RequestUri!.AbsolutePath)));
        var create = JsonSerializer.Deserialize<CreateDeploymentRequest>(bodies[0], StrataJson.Options)!;
        Assert.Equal(new DeploymentScaling { Mode = ScalingModes.Cpu, TargetCpuPercent = 60 }, create.Scaling);
        // Only what was given changes: the mode, not the targets.
        var update = JsonSerializer.Deserialize<UpdateDeploymentRequest>(bodies[1], StrataJson.Options)!;
        Assert.Equal(new UpdateDeploymentRequest { Scaling = new DeploymentScaling { Mode = ScalingModes.InFlight } }, update);
    }

    [Theory]
    [InlineData(new[] { "job", "list" }, "error: unknown command \"job\" for \"strata\"; did you mean \"strata jobs list\"?")]
    [InlineData(new[] { "jobs", "lsit", "--all" }, "error: unknown command \"lsit\" for \"strata jobs\"; did you mean \"strata jobs list --all\"?")]
    [InlineData(new[] { "frobnicate" }, "error: unknown command \"frobnicate\" for \"strata\"; run 'strata --help' for its commands")]
    public async Task A_mistyped_command_is_one_line_naming_the_nearest(string[] args, string expected)
    {
        var (cli, server, _) = WithStubServer();

        var result = await cli.RunAsync(args);

        Assert.Equal(ExitCodes.UsageError, result.ExitCode);
        Assert.Equal(expected, result.Error.Trim());
        Assert.Empty(server.Requests);
    }
}
