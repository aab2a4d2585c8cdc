using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata deploy</c> (create a deployment, or change it when it exists), <c>strata deployments
/// list|get|delete|rollback</c> and <c>strata predict</c>.
/// </summary>
public static class DeploymentCommands
{
    /// <summary>How long <c>deploy --wait</c> waits for the replicas when <c>--timeout</c> is not given.</summary>
    public const int DefaultWaitSeconds = 300;

    /// <summary>What <c>strata deploy</c> asks for; null fields are left as they are (or the server's defaults).</summary>
    public sealed record DeploySettings
    {
        public string? Model { get; init; }
        public int? MinReplicas { get; init; }
        public int? MaxReplicas { get; init; }
        public double? TargetInFlight { get; init; }
        /// <summary><see cref="ScalingModes"/>: which autoscaler sizes the deployment.</summary>
        public string? ScalingMode { get; init; }
        public int? TargetCpuPercent { get; init; }
        public double? CpuCores { get; init; }
        public double? MemoryGb { get; init; }
        public string? Canary { get; init; }
        public double? CanaryWeight { get; init; }
    }

    public static Command CreateDeploy(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The deployment's name (a DNS label, unique in the tenant)" };
        var model = new Option<string?>("--model") { Description = "model@version or model@alias (churn@3, churn@production, churn@latest); required to create" };
        var min = new Option<int?>("--min") { Description = "Fewest replicas (default 1)", CustomParser = CliOptions.ParseInt };
        var max = new Option<int?>("--max") { Description = "Most replicas the autoscaler may run (default 4)", CustomParser = CliOptions.ParseInt };
        var target = new Option<double?>("--target-in-flight") { Description = "Requests in flight per replica the autoscaler aims at (default 8)", CustomParser = CliOptions.ParseDouble };
        var scalingMode = new Option<string?>("--scaling-mode")
        {
            Description = "What the autoscaler follows: in_flight (requests in flight, the default) or cpu (a HorizontalPodAutoscaler; Kubernetes runtime only)",
        };
        scalingMode.AcceptOnlyFromAmong(ScalingModes.InFlight, ScalingModes.Cpu);
        var targetCpu = new Option<int?>("--target-cpu-percent") { Description = "With --scaling-mode cpu: CPU use per replica the autoscaler aims at, 1 to 100 (default 70)", CustomParser = CliOptions.ParseInt };
        var cpu = new Option<double?>("--cpu") { Description = "CPU cores per replica", CustomParser = CliOptions.ParseDouble };
        var memory = new Option<double?>("--memory") { Description = "Memory per replica, GB", CustomParser = CliOptions.ParseDouble };
        var canary = new Option<string?>("--canary") { Description = "Another version taking a share of the traffic (churn@4); needs --canary-weight when new" };
        var canaryWeight = new Option<double?>("--canary-weight") { Description = "The canary's share, above 0 and below 1; 0 alone removes the canary", CustomParser = CliOptions.ParseDouble };
        var wait = new Option<bool>("--wait") { Description = "Wait until every replica of the new settings is ready" };
        var timeout = new Option<int?>("--timeout") { Description = $"With --wait: give up after this many seconds (default {DefaultWaitSeconds})", CustomParser = CliOptions.ParseInt };
        var command = new Command("deploy",
            "Deploy a model version as a prediction endpoint, or change the deployment of that name when it exists (a new --model rolls out replica by replica)")
        {
            name, model, min, max, target, scalingMode, targetCpu, cpu, memory, canary, canaryWeight, wait, timeout,
        };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            var settings = new DeploySettings
            {
                Model = parse.GetValue(model),
                MinReplicas = parse.GetValue(min),
                MaxReplicas = parse.GetValue(max),
                TargetInFlight = parse.GetValue(target),
                ScalingMode = parse.GetValue(scalingMode),
                TargetCpuPercent = parse.GetValue(targetCpu),
                CpuCores = parse.GetValue(cpu),
                MemoryGb = parse.GetValue(memory),
                Canary = parse.GetValue(canary),
                CanaryWeight = parse.GetValue(canaryWeight),
            };
            TimeSpan? waitFor = parse.GetValue(wait) ? TimeSpan.FromSeconds(parse.GetValue(timeout) ?? DefaultWaitSeconds) : null;
            return DeployAsync(cli, client, parse.GetValue(name)!, settings, waitFor, cli.Format(parse), token);
        }, ct, $"deployment \"{parse.GetValue(name)}\""));
        return command;
    }

    /// <summary>
    /// Creates the deployment when <see cref="DeploySettings.Model"/> is given and the name is free;
    /// otherwise (the name is taken, or no model was given) changes the existing one with the settings given.
    /// </summary>
    public static async Task<int> DeployAsync(
        CliContext cli, StrataClient client, string name, DeploySettings settings, TimeSpan? waitFor, OutputFormat format, CancellationToken cancellationToken)
    {
        var console = cli.Out;
        var compute = settings.CpuCores is null && settings.MemoryGb is null ? null : new DeploymentCompute { CpuCores = settings.CpuCores, MemoryGb = settings.MemoryGb };
        var scaling = settings.TargetInFlight is null && settings.ScalingMode is null && settings.TargetCpuPercent is null ? null
            : new DeploymentScaling { Mode = settings.ScalingMode, TargetInFlight = settings.TargetInFlight, TargetCpuPercent = settings.TargetCpuPercent };
        var canary = settings.Canary is null && settings.CanaryWeight is null ? null : new DeploymentCanary { Model = settings.Canary, Weight = settings.CanaryWeight };
        Deployment? deployment = null;
        var created = false;
        if (settings.Model is not null)
        {
            try
            {
                deployment = await client.Deployments.CreateAsync(new CreateDeploymentRequest
                {
                    Name = name,
                    Model = settings.Model,
                    MinReplicas = settings.MinReplicas,
                    MaxReplicas = settings.MaxReplicas,
                    Scaling = scaling,
                    Compute = compute,
                    Canary = canary,
                }, cancellationToken);
                created = true;
            }
            catch (ConflictException)
            {
                // The name is taken: this is a change of the existing deployment.
            }
        }
        if (deployment is null)
        {
            var update = new UpdateDeploymentRequest
            {
                Model = settings.Model,
                MinReplicas = settings.MinReplicas,
                MaxReplicas = settings.MaxReplicas,
                Scaling = scaling,
                Compute = compute,
                Canary = canary,
            };
            if (update == new UpdateDeploymentRequest())
            {
                throw new UsageException("give --model to create a deployment, or a setting to change (--model, --min, --max, --target-in-flight, --scaling-mode, --target-cpu-percent, --cpu, --memory, --canary, --canary-weight)");
            }
            try
            {
                deployment = await client.Deployments.UpdateAsync(name, update, cancellationToken);
            }
            catch (NotFoundException e) when (settings.Model is null)
            {
                throw new UsageException($"there is no deployment \"{name}\" to change; give --model to create it ({e.Status})");
            }
        }
        if (format.ForPeople())
        {
            var withCanary = deployment.Canary is null ? "" : $", canary {Canary(deployment)} of the predictions";
            console.MarkupLine($"{(created ? "Created" : "Updated")} deployment [bold]{Output.Esc(deployment.Name)}[/]: {Output.Esc(Serving(deployment))}{Output.Esc(withCanary)}, "
                + $"{deployment.MinReplicas} to {deployment.MaxReplicas} replicas; predict at {Output.Esc(deployment.EndpointUrl)}");
        }
        if (waitFor is { } limit)
        {
            deployment = await WaitWithProgressAsync(cli.Error, client, deployment, limit, cli.PollInterval, cancellationToken);
            if (format.ForPeople()) console.MarkupLine($"Ready: {deployment.ReadyReplicas} replica(s) of version {deployment.ModelVersion}{CanaryReady(deployment)}.");
        }
        Output.WriteData(console, format, deployment, [deployment.Name]);
        return ExitCodes.Success;
    }

    /// <summary>
    /// <see cref="DeploymentsClient.WaitUntilReadyAsync"/> showing the replicas as they become ready, on standard error as the upload
    /// does: a bar of ready replicas on a terminal; elsewhere one whole line each time the state changes.
    /// </summary>
    private static async Task<Deployment> WaitWithProgressAsync(
        IAnsiConsole console, StrataClient client, Deployment deployment, TimeSpan limit, TimeSpan poll, CancellationToken cancellationToken)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            string? last = null;
            return await client.Deployments.WaitUntilReadyAsync(deployment, limit, poll, d =>
            {
                var line = Progress(d);
                if (line != last) console.WriteLine(line);
                last = line;
            }, cancellationToken);
        }

        return await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(Progress(deployment)), maxValue: Math.Max(deployment.DesiredReplicas, 1));
                var ready = await client.Deployments.WaitUntilReadyAsync(deployment, limit, poll, d =>
                {
                    task.Description = Markup.Escape(Progress(d));
                    task.MaxValue = Math.Max(d.DesiredReplicas, 1);
                    task.Value = d.ReadyReplicas;
                }, cancellationToken);
                task.Value = task.MaxValue;
                return ready;
            });
    }

    /// <summary>"deployment churn: rolling_out, 1 of 2 replica(s) ready (version 2)".</summary>
    private static string Progress(Deployment d) =>
        $"deployment {d.Name}: {d.Status}, {d.ReadyReplicas} of {d.DesiredReplicas} replica(s) ready (version {d.ModelVersion})"
        + (d.Canary is { } c ? $", canary {c.ReadyReplicas} of {c.DesiredReplicas}" : "");

    public static Command CreateDeployments(CliContext cli)
    {
        var command = new Command("deployments", "Deployed models: list, show, delete, roll back");
        command.Subcommands.Add(ListCommand(cli));
        command.Subcommands.Add(GetCommand(cli));
        command.Subcommands.Add(DeleteCommand(cli));
        command.Subcommands.Add(RollbackCommand(cli));
        return command;
    }

    private static Command ListCommand(CliContext cli)
    {
        var command = new Command("list", "List the tenant's deployments, newest first");
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ListAsync(cli.Out, client, cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ListAsync(IAnsiConsole console, StrataClient client, OutputFormat format, CancellationToken cancellationToken)
    {
        var deployments = await client.Deployments.ListAsync(cancellationToken: cancellationToken);
        if (Output.WriteData(console, format, deployments, deployments.Select(d => d.Name)))
        {
            return ExitCodes.Success;
        }
        var wide = format == OutputFormat.Wide;
        var table = new Table().AddColumns("NAME", "MODEL", "VERSION", "CANARY", "STATUS", "READY", "REPLICAS", "ENDPOINT", "CREATED");
        if (wide) table.AddColumns("PREVIOUS", "SCALING", "COMPUTE", "UPDATED");
        foreach (var d in deployments)
        {
            List<string> cells =
            [
                Output.Esc(d.Name), Output.Esc(d.Model), d.ModelVersion.ToString(CultureInfo.InvariantCulture), Output.Esc(Canary(d)), d.Status,
                $"{d.ReadyReplicas}/{d.DesiredReplicas}", $"{d.MinReplicas}-{d.MaxReplicas}", Output.Esc(d.EndpointUrl), Output.Esc(Output.Time(d.CreatedAt)),
            ];
            if (wide)
            {
                cells.AddRange(
                    d.PreviousModelVersion?.ToString(CultureInfo.InvariantCulture) ?? "-", ScalingTarget(d),
                    $"{d.Compute.CpuCores?.ToString(CultureInfo.InvariantCulture) ?? "-"} CPU, {d.Compute.MemoryGb?.ToString(CultureInfo.InvariantCulture) ?? "-"} GB",
                    Output.Esc(Output.Time(d.UpdatedAt)));
            }

            table.AddRow([.. cells]);
        }
        console.Write(table);
        return ExitCodes.Success;
    }

    private static Command GetCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The deployment's name" };
        var command = new Command("get", "Show a deployment: version, replicas, canary, endpoint and the events that led there") { name };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            GetAsync(cli.Out, client, parse.GetValue(name)!, cli.Format(parse), token), ct, $"deployment \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> GetAsync(IAnsiConsole console, StrataClient client, string name, OutputFormat format, CancellationToken cancellationToken)
    {
        var d = await client.Deployments.GetAsync(name, cancellationToken);
        if (Output.WriteData(console, format, d, [d.Name]))
        {
            return ExitCodes.Success;
        }
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string label, string? value) => grid.AddRow($"[grey]{label}[/]", Output.Esc(value));
        Row("Name", d.Name);
        Row("Model", $"{Serving(d)}{(d.PreviousModelVersion is { } previous ? $" (before: version {previous})" : "")}");
        Row("Canary", Canary(d));
        Row("Status", d.Status);
        Row("Replicas", $"{d.ReadyReplicas} ready of {d.DesiredReplicas} desired ({d.MinReplicas} to {d.MaxReplicas}){CanaryReady(d)}");
        Row("Scaling", ScalingTarget(d));
        Row("Compute", $"{d.Compute.CpuCores?.ToString(CultureInfo.InvariantCulture)} CPU, {d.Compute.MemoryGb?.ToString(CultureInfo.InvariantCulture)} GB per replica");
        Row("Endpoint", d.EndpointUrl);
        Row("Created", Output.Time(d.CreatedAt));
        Row("Updated", Output.Time(d.UpdatedAt));
        console.Write(grid);
        var events = new Table().AddColumns("TIME", "REASON", "MESSAGE");
        foreach (var e in d.Events) events.AddRow(Output.Esc(Output.Time(e.Time)), Output.Esc(e.Reason), Output.Esc(e.Message));
        console.Write(events);
        return ExitCodes.Success;
    }

    private static Command DeleteCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The deployment's name" };
        var command = new Command("delete", "Delete a deployment and stop its replicas") { name };
        command.SetAction((parse, ct) => cli.RunAsync(parse, async (client, token) =>
        {
            var deployment = parse.GetValue(name)!;
            await client.Deployments.DeleteAsync(deployment, token);
            if (cli.Format(parse).ForPeople()) cli.Out.MarkupLine($"Deleted deployment [bold]{Output.Esc(deployment)}[/].");
            else if (cli.Format(parse) == OutputFormat.Name) Output.WriteRaw(cli.Out, deployment);
            return ExitCodes.Success;
        }, ct, $"deployment \"{parse.GetValue(name)}\""));
        return command;
    }

    private static Command RollbackCommand(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The deployment's name" };
        var version = new Option<int?>("--to-version") { Description = "The version to go back to (default: the one served before the last change of version)", CustomParser = CliOptions.ParseInt };
        var wait = new Option<bool>("--wait") { Description = "Wait until every replica of the earlier version is ready, as deploy --wait does" };
        var timeout = new Option<int?>("--timeout") { Description = $"With --wait: give up after this many seconds (default {DefaultWaitSeconds})", CustomParser = CliOptions.ParseInt };
        var command = new Command("rollback", "Roll a deployment back to an earlier version, replica by replica") { name, version, wait, timeout };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            TimeSpan? waitFor = parse.GetValue(wait) ? TimeSpan.FromSeconds(parse.GetValue(timeout) ?? DefaultWaitSeconds) : null;
            return RollbackAsync(cli, client, parse.GetValue(name)!, parse.GetValue(version), waitFor, cli.Format(parse), token);
        }, ct, $"deployment \"{parse.GetValue(name)}\""));
        return command;
    }

    /// <summary>
    /// A rollback is the PATCH of an earlier version: <paramref name="toVersion"/>, else the version the
    /// deployment served before its last change of version (so a second rollback undoes the first).
    /// </summary>
    public static async Task<int> RollbackAsync(CliContext cli, StrataClient client, string name, int? toVersion, TimeSpan? waitFor, OutputFormat format, CancellationToken cancellationToken)
    {
        var console = cli.Out;
        var deployment = await client.Deployments.GetAsync(name, cancellationToken);
        var target = toVersion ?? deployment.PreviousModelVersion
            ?? throw new UsageException($"deployment \"{name}\" has served version {deployment.ModelVersion} since it was created: there is no earlier version to go back to; name one with --to-version");
        if (target == deployment.ModelVersion) throw new UsageException($"deployment \"{name}\" already serves version {target}");
        var from = deployment.ModelVersion;
        deployment = await client.Deployments.UpdateAsync(name, new UpdateDeploymentRequest
        {
            Model = $"{deployment.ModelName}@{target.ToString(CultureInfo.InvariantCulture)}",
        }, cancellationToken);
        if (format.ForPeople())
        {
            console.MarkupLine($"Rolling [bold]{Output.Esc(name)}[/] back from version {from} to version {deployment.ModelVersion}, replica by replica"
                + (waitFor is null ? $" ('strata deployments get {Output.Esc(name)}' shows progress)." : "."));
        }
        if (waitFor is { } limit)
        {
            deployment = await WaitWithProgressAsync(cli.Error, client, deployment, limit, cli.PollInterval, cancellationToken);
            if (format.ForPeople()) console.MarkupLine($"Ready: {deployment.ReadyReplicas} replica(s) of version {deployment.ModelVersion}.");
        }
        Output.WriteData(console, format, deployment, [deployment.Name]);
        return ExitCodes.Success;
    }

    public static Command CreatePredict(CliContext cli)
    {
        var name = new Argument<string>("name") { Description = "The deployment" };
        var input = new Argument<string?>("input")
        {
            Description = "One instance as a JSON object, {\"instances\": [...]}, @file.json, or @file.csv (as --csv)", Arity = ArgumentArity.ZeroOrOne,
        };
        var csv = new Option<string?>("--csv") { Description = "A CSV file with a header row of feature names: every row is predicted, answered as CSV (its columns and the prediction's)" };
        var outFile = new Option<string?>("--out") { Description = "With --csv: write the answer's CSV to this file instead of standard output" };
        var command = new Command("predict", "Predict with a deployed model; prints the answer's JSON, or a CSV's rows with their predictions") { name, input, csv, outFile };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            var given = parse.GetValue(input);
            var csvFile = parse.GetValue(csv) ?? (given is ['@', .. var file] && file.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? file : null);
            if (csvFile is not null)
            {
                if (parse.GetValue(csv) is not null && given is not null) throw new UsageException("give the input once: as --csv FILE, or as an argument");
                return CsvPredictions.PredictAsync(cli, client, parse.GetValue(name)!, csvFile, parse.GetValue(outFile), token);
            }
            if (given is null) throw new UsageException("give what to predict: one instance as JSON, {\"instances\": [...]}, @file.json, or --csv FILE");
            if (parse.GetValue(outFile) is not null) throw new UsageException("--out goes with --csv");
            return PredictAsync(cli, client, parse.GetValue(name)!, given, cli.Format(parse), token);
        }, ct, $"deployment \"{parse.GetValue(name)}\""));
        return command;
    }

    public static async Task<int> PredictAsync(CliContext cli, StrataClient client, string name, string input, OutputFormat format, CancellationToken cancellationToken)
    {
        var text = input;
        if (input.StartsWith('@'))
        {
            var path = Path.GetFullPath(input[1..], cli.WorkingDirectory);
            if (!File.Exists(path)) throw new UsageException($"{input}: there is no file {path}");
            text = await File.ReadAllTextAsync(path, cancellationToken);
        }
        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(text);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            // The reader's position, never the input itself: a file can be megabytes.
            throw new UsageException($"the input is not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: \"{CsvPredictions.Excerpt(text.Split('\n').ElementAtOrDefault((int)(e.LineNumber ?? 0)) ?? "")}\"); "
                + "give one instance such as '{\"tenure_months\": 3, ...}', '{\"instances\": [...]}', @file.json, or a CSV with --csv");
        }
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new UsageException("the input must be a JSON object: one instance, or {\"instances\": [...]}");
        }
        var result = await client.Deployments.PredictAsync(name, body, cancellationToken);
        // The answer is JSON for people too; -o yaml converts it.
        Output.WriteData(cli.Out, format.ForPeople() ? OutputFormat.Json : format, result.Body);
        return ExitCodes.Success;
    }

    /// <summary>"8 requests in flight per replica", or "70% CPU per replica (HPA)" in mode cpu.</summary>
    private static string ScalingTarget(Deployment d) => d.Scaling.Mode == ScalingModes.Cpu
        ? $"{d.Scaling.TargetCpuPercent?.ToString(CultureInfo.InvariantCulture) ?? "-"}% CPU per replica (HPA)"
        : $"{d.Scaling.TargetInFlight?.ToString(CultureInfo.InvariantCulture) ?? "-"} requests in flight per replica";

    private static string Serving(Deployment d) => $"{d.ModelName} version {d.ModelVersion} ({d.Model})";

    private static string Canary(Deployment d) =>
        d.Canary is { } c ? $"version {c.ModelVersion} ({c.Model}) at {(c.Weight * 100).ToString("0.##", CultureInfo.InvariantCulture)}%" : "-";

    private static string CanaryReady(Deployment d) =>
        d.Canary is { } c ? $"; canary: {c.ReadyReplicas} of {c.DesiredReplicas} replica(s) of version {c.ModelVersion} ready" : "";
}
