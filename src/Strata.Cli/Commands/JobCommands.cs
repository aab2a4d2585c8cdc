using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata jobs submit|list|get|logs|cancel|wait|attempts|metrics|compare</c>.</summary>
public static class JobCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("jobs", "Submit and follow training jobs");
        command.Subcommands.Add(SubmitCommand.Create(cli));
        command.Subcommands.Add(ListCommand(cli));
        command.Subcommands.Add(GetCommand(cli));
        command.Subcommands.Add(LogsCommand(cli));
        command.Subcommands.Add(CancelCommand(cli));
        command.Subcommands.Add(WaitCommand(cli));
        command.Subcommands.Add(AttemptsCommand(cli));
        command.Subcommands.Add(TrackingCommands.MetricsCommand(cli));
        command.Subcommands.Add(TrackingCommands.CompareCommand(cli));
        command.Subcommands.Add(DownloadCommands.JobOutputs(cli));
        return command;
    }

    /// <summary>What a job argument may be: the server resolves it (docs/tracking.md, "Naming a job").</summary>
    public const string ReferenceDescription = "The job: its id, a unique prefix of its id (4+ characters), or its name";

    private static string Subject(string? id) => $"job \"{id}\"";

    private static Command ListCommand(CliContext cli)
    {
        var status = new Option<string?>("--status") { Description = "Only jobs in this status" };
        status.AcceptOnlyFromAmong(Enum.GetValues<JobStatus>().Select(Output.Status).ToArray());
        var limit = new Option<int?>("--limit") { Description = "Jobs per page", CustomParser = CliOptions.ParsePositiveInt };
        var pageToken = new Option<string?>("--page-token") { Description = "Start at this page (from a previous list's hint)" };
        var all = new Option<bool>("--all") { Description = "Read every page" };
        var command = new Command("list", "List jobs, newest first") { status, limit, pageToken, all };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ListAsync(
            cli.Out, client,
            new JobListOptions
            {
                Status = parse.GetValue(status) is { } s ? Enum.Parse<JobStatus>(s.Replace("_", "", StringComparison.Ordinal), ignoreCase: true) : null,
                Limit = parse.GetValue(limit),
                PageToken = parse.GetValue(pageToken),
            },
            parse.GetValue(all), cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ListAsync(IAnsiConsole console, StrataClient client, JobListOptions options, bool all, OutputFormat format, CancellationToken cancellationToken)
    {
        List<TrainingJob> jobs;
        string? next = null;
        if (all)
        {
            jobs = [];
            await foreach (var job in client.Jobs.ListAllAsync(options, cancellationToken))
            {
                jobs.Add(job);
            }
        }
        else
        {
            var page = await client.Jobs.ListAsync(options, cancellationToken);
            jobs = [.. page.Items];
            next = page.NextPageToken;
        }

        if (Output.WriteData(console, format, jobs, jobs.Select(j => j.Id)))
        {
            return ExitCodes.Success;
        }

        if (jobs.Count == 0)
        {
            console.WriteLine("No jobs.");
            return ExitCodes.Success;
        }

        var wide = format == OutputFormat.Wide;
        var table = new Table().AddColumns("ID", "NAME", "STATUS", "REASON", "ATTEMPTS", "CREATED", "DURATION");
        if (wide) table.AddColumns("PRIORITY", "COMPUTE", "QUEUE", "STARTED", "ENTRYPOINT");
        foreach (var job in jobs)
        {
            List<string> cells =
            [
                Output.Esc(job.Id), Output.Esc(job.Spec.Name), Output.StatusMarkup(job.Status), Output.Esc(job.StatusReason),
                job.Attempts.ToString(CultureInfo.InvariantCulture), Output.Time(job.CreatedAt), Output.Duration(job.StartedAt, job.CompletedAt),
            ];
            if (wide)
            {
                cells.AddRange(
                    (job.Spec.Priority ?? 0).ToString(CultureInfo.InvariantCulture), Output.Esc(Compute(job.Spec)),
                    job.QueuePosition?.ToString(CultureInfo.InvariantCulture) ?? "-", Output.Time(job.StartedAt), Output.Esc(job.Spec.Entrypoint ?? job.Spec.Model));
            }

            table.AddRow([.. cells]);
        }

        table.Columns[0].NoWrap();
        console.Write(table);
        if (next is not null)
        {
            console.MarkupLine($"[grey]More jobs: --page-token {Output.Esc(next)} (or --all)[/]");
        }

        return ExitCodes.Success;
    }

    /// <summary>"2 cores, 4 GB, 1 GPU (nvidia-a100), 2 workers": what the job asked for; "-" for the server's defaults.</summary>
    private static string Compute(TrainingJobSpec spec)
    {
        var parts = new List<string>();
        if (spec.Compute is { } compute)
        {
            if (compute.CpuCores is { } cores) parts.Add($"{cores} cores");
            if (compute.MemoryGb is { } memory) parts.Add($"{memory} GB");
            if (compute.GpuCount is { } gpus) parts.Add(gpus == 1 ? "1 GPU" : $"{gpus} GPUs");
            if (compute.GpuFraction is { } fraction) parts.Add($"{fraction.ToString(CultureInfo.InvariantCulture)} GPU");
            if (compute.GpuType is { } type) parts.Add(type);
        }

        if (spec.Distributed?.NumWorkers is { } workers) parts.Add($"{workers} workers");
        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    private static Command GetCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var command = new Command("get", "Show a job: status, reason, queue position, attempts, timings, error") { id };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            GetAsync(cli.Out, client, parse.GetValue(id)!, cli.Format(parse), token), ct, Subject(parse.GetValue(id))));
        return command;
    }

    public static async Task<int> GetAsync(IAnsiConsole console, StrataClient client, string id, OutputFormat format, CancellationToken cancellationToken)
    {
        var job = await client.Jobs.GetAsync(id, cancellationToken);
        if (Output.WriteData(console, format, job, [job.Id]))
        {
            return ExitCodes.Success;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string label, string value) => grid.AddRow($"[bold]{label}[/]", value);
        Row("ID", Output.Esc(job.Id));
        Row("Name", Output.Esc(job.Spec.Name));
        Row("Status", Output.StatusMarkup(job.Status));
        Row("Reason", Output.Esc(job.StatusReason));
        if (job.StatusMessage is not null)
        {
            Row("Why", Output.Esc(job.StatusMessage));
        }

        if (job.QueuePosition is { } position)
        {
            Row("Queue position", position.ToString(CultureInfo.InvariantCulture));
        }

        Row("Attempts", job.Attempts.ToString(CultureInfo.InvariantCulture));
        Row("Created", Output.Time(job.CreatedAt));
        Row("Started", Output.Time(job.StartedAt));
        Row("Completed", Output.Time(job.CompletedAt));
        Row("Duration", Output.Duration(job.StartedAt, job.CompletedAt));
        Row("Entrypoint", Output.Esc(job.Spec.Entrypoint));
        if (job.Spec.Model is not null)
        {
            Row("Model", Output.Esc(job.Spec.Model));
        }

        if (job.Runtime is { } runtime)
        {
            Row("Runtime", Output.Esc(string.Join(" ", new[] { runtime.Kind, runtime.Namespace, runtime.Name }.Where(p => p is not null))));
        }

        if (job.ErrorMessage is not null)
        {
            Row("Error", $"[red]{Output.Esc(job.ErrorMessage)}[/]");
        }

        if (job.Metrics.Count > 0)
        {
            Row("Metrics", Output.Esc(string.Join(", ", job.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value.ToString("G6", CultureInfo.InvariantCulture)}"))));
        }

        if (job.Output is { } output)
        {
            // The output folder's path is the server's (-o json shows it): a remote user fetches the files instead.
            Row("Output", Output.Esc(string.Join("; ", new[] { output.ModelVersion is { } model ? $"model {model}" : null, $"files: strata jobs outputs {job.Id} <folder>" }.Where(p => p is not null))));
        }

        foreach (var hint in job.RightSizing)
        {
            Row("Right-sizing", $"[yellow]{Output.Esc(hint.Message)}[/]");
        }

        console.Write(grid);
        return ExitCodes.Success;
    }

    private static Command LogsCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var follow = new Option<bool>("--follow", "-f") { Description = "Stream the log until the attempt ends" };
        var tail = new Option<int?>("--tail") { Description = "Only the last N lines", CustomParser = CliOptions.ParseInt };
        var attempt = new Option<int?>("--attempt") { Description = "The attempt's number (default: the latest)", CustomParser = CliOptions.ParseInt };
        var rank = new Option<string?>("--rank") { Description = "A distributed job's worker: its rank (default 0), or all, each line prefixed [rank N]" };
        var command = new Command("logs", "Print a job's log") { id, follow, tail, attempt, rank };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => LogsAsync(
            cli.Out, client, parse.GetValue(id)!,
            new LogOptions
            {
                Follow = parse.GetValue(follow), Tail = parse.GetValue(tail), Attempt = parse.GetValue(attempt), Rank = parse.GetValue(rank),
                // On stderr, so that the log on stdout stays the job's own bytes.
                OnReconnecting = e => cli.Error.Profile.Out.Writer.WriteLine($"strata: the log's stream broke ({e.Message}); reconnecting, it goes on where it stopped"),
            },
            token), ct, Subject(parse.GetValue(id))));
        return command;
    }

    /// <summary>Writes the log's lines as they arrive, unstyled (a log line is never read as markup).</summary>
    public static async Task<int> LogsAsync(IAnsiConsole console, StrataClient client, string id, LogOptions options, CancellationToken cancellationToken)
    {
        // A followed log reconnects after a broken stream: by the job's full id, so that a reference (a name) cannot
        // come to name a newer run of it halfway.
        var handle = client.Jobs.GetHandle(options.Follow ? (await client.Jobs.GetAsync(id, cancellationToken)).Id : id);
        await foreach (var line in handle.ReadLogsAsync(options, cancellationToken))
        {
            Output.WriteRaw(console, line);
        }

        return ExitCodes.Success;
    }

    private static Command CancelCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var command = new Command("cancel", "Cancel a job") { id };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            CancelAsync(cli.Out, client, parse.GetValue(id)!, cli.Format(parse), token), ct, Subject(parse.GetValue(id))));
        return command;
    }

    public static async Task<int> CancelAsync(IAnsiConsole console, StrataClient client, string id, OutputFormat format, CancellationToken cancellationToken)
    {
        // The reference (a prefix, a name) is resolved once: once cancelled, a name could name another run of it.
        var handle = client.Jobs.GetHandle((await client.Jobs.GetAsync(id, cancellationToken)).Id);
        await handle.CancelAsync(cancellationToken);
        if (format.ForPeople())
        {
            console.MarkupLine($"Cancelled job [bold]{Output.Esc(handle.Id)}[/].");
        }
        else
        {
            var job = await handle.GetAsync(cancellationToken);
            Output.WriteData(console, format, job, [job.Id]);
        }

        return ExitCodes.Success;
    }

    private static Command WaitCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var timeout = new Option<string?>("--timeout") { Description = "Give up after this long (3600, 90s, 30m, 2h); exit code 7" };
        var command = new Command("wait", "Wait for a job to end; exits 0 if it succeeded, 1 if it failed or was cancelled") { id, timeout };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
        {
            var limit = parse.GetValue(timeout) is { } text ? TimeSpan.FromSeconds(SpecBuilder.ParseDurationSeconds(text, "--timeout")) : (TimeSpan?)null;
            return WaitAsync(cli.Out, cli.Error, client, parse.GetValue(id)!, new WaitOptions { PollInterval = cli.PollInterval, Timeout = limit }, cli.Format(parse), token);
        }, ct, Subject(parse.GetValue(id))));
        return command;
    }

    /// <summary>Shows the job's status and reason while it runs; the exit code says how it ended.</summary>
    /// <exception cref="TimeoutException">The wait's timeout passed first.</exception>
    public static async Task<int> WaitAsync(
        IAnsiConsole console, IAnsiConsole error, StrataClient client, string id, WaitOptions options, OutputFormat format, CancellationToken cancellationToken)
    {
        var handle = client.Jobs.GetHandle(id);
        TrainingJob job;
        if (!format.ForPeople())
        {
            job = await handle.WaitAsync(options, cancellationToken);
            Output.WriteData(console, format, job, [job.Id]);
        }
        else if (console.Profile.Capabilities.Interactive)
        {
            job = await console.Status().Spinner(Spinner.Known.Dots).StartAsync($"job {Output.Esc(id)}: waiting", async context =>
                await handle.WaitAsync(
                    options with { OnChange = j => context.Status($"job {Output.Esc(id)}: {Output.Esc(Output.Describe(j))}") },
                    cancellationToken));
        }
        else
        {
            // No live display without a terminal: one line per change reads well in CI logs. The end is said
            // once, below.
            job = await handle.WaitAsync(
                options with { OnChange = j => { if (!JobHandle.IsTerminal(j.Status)) console.WriteLine($"job {id}: {Output.Describe(j)}"); } },
                cancellationToken);
        }

        if (job.Status == JobStatus.Succeeded)
        {
            if (format.ForPeople())
            {
                console.MarkupLine($"Job [bold]{Output.Esc(id)}[/] [green]succeeded[/] in {Output.Duration(job.StartedAt, job.CompletedAt)}.");
            }

            return ExitCodes.Success;
        }

        var why = string.Join(": ", new[] { job.StatusReason, job.ErrorMessage }.Where(p => !string.IsNullOrEmpty(p)));
        ErrorReporter.WriteError(error, $"job \"{id}\" {Output.Status(job.Status)}{(why.Length == 0 ? "" : $" ({why})")}");
        return ExitCodes.Failure;
    }

    private static Command AttemptsCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var command = new Command("attempts", "List a job's attempts (retries are new attempts)") { id };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            AttemptsAsync(cli.Out, client, parse.GetValue(id)!, cli.Format(parse), token), ct, Subject(parse.GetValue(id))));
        return command;
    }

    public static async Task<int> AttemptsAsync(IAnsiConsole console, StrataClient client, string id, OutputFormat format, CancellationToken cancellationToken)
    {
        var attempts = await client.Jobs.GetHandle(id).GetAttemptsAsync(cancellationToken);
        if (Output.WriteData(console, format, attempts, attempts.Select(a => a.Number.ToString(CultureInfo.InvariantCulture))))
        {
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("#", "STATUS", "REASON", "EXIT", "STARTED", "DURATION", "PEAK MEMORY", "CPU", "ERROR");
        foreach (var a in attempts)
        {
            table.AddRow(
                a.Number.ToString(CultureInfo.InvariantCulture), Output.Esc(Output.Status(a.Status)), Output.Esc(a.Reason),
                a.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-", Output.Time(a.StartedAt), Output.Duration(a.StartedAt, a.CompletedAt),
                Output.Bytes(a.PeakMemoryBytes), a.CpuSeconds is { } cpu ? $"{cpu:0.0}s" : "-", Output.Esc(a.ErrorMessage));
        }

        console.Write(table);
        return ExitCodes.Success;
    }
}
