using System.CommandLine;
using System.Text.RegularExpressions;
using Spectre.Console;
using Strata.Cli.Uploads;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata run [folder]</c>: runs a project by convention. Packs the folder (honouring .gitignore and
/// .strataignore), uploads it, and submits a job that runs <c>python train.py</c> (or <c>--entrypoint</c>)
/// in a fresh copy of it. <c>--data</c> is uploaded too when it is local.
/// </summary>
public static partial class RunCommand
{
    public const string ConventionalScript = "train.py";

    public static Command Create(CliContext cli)
    {
        var folder = new Argument<string>("folder") { Description = "The project folder", DefaultValueFactory = _ => "." };
        var name = new Option<string?>("--name", "-n") { Description = "The job's name (default: the folder's name and a random suffix)" };
        var entrypoint = new Option<string?>("--entrypoint") { Description = "The shell command to run in the project's copy (default: python train.py)" };
        var data = new Option<string?>("--data") { Description = "The data: a local file or folder (uploaded), an artifact:// URI, or a path the job reads" };
        var cpu = new Option<int?>("--cpu") { Description = "CPU cores", CustomParser = CliOptions.ParseInt };
        var memory = new Option<int?>("--memory") { Description = "Memory, GB", CustomParser = CliOptions.ParseInt };
        var gpus = new Option<int?>("--gpus") { Description = "GPUs", CustomParser = CliOptions.ParseInt };
        var timeout = new Option<string?>("--timeout") { Description = "Limit of one attempt: 3600, 90s, 30m, 2h" };
        var hyperparameters = new Option<string[]>("--hyperparameter", "-p") { Description = "key=value, repeatable", DefaultValueFactory = _ => [] };
        var env = new Option<string[]>("--env", "-e") { Description = "KEY=VALUE, repeatable", DefaultValueFactory = _ => [] };
        var workers = new Option<int?>("--workers") { Description = "Distributed workers (DDP), admitted all or none", CustomParser = CliOptions.ParseInt };
        var onQuotaExceeded = CliOptions.OnQuotaExceeded();
        var requirements = new Option<string?>("--requirements") { Description = "A requirements file in the folder that the job's Python environment is built from (default: requirements.txt, when there is one)" };
        var noRequirements = new Option<bool>("--no-requirements") { Description = "Build no environment, even where the folder has a requirements.txt" };
        var command = new Command("run", "Run the project in a folder: pack it (honouring .gitignore and .strataignore), upload it and run python train.py in a copy")
        {
            folder, name, entrypoint, data, cpu, memory, gpus, timeout, hyperparameters, env, workers, onQuotaExceeded, requirements, noRequirements,
        };
        command.SetAction((parse, ct) => cli.RunAsync(async token =>
        {
            var root = Path.GetFullPath(parse.GetValue(folder)!, cli.WorkingDirectory);
            if (!Directory.Exists(root)) throw new UsageException($"there is no folder {root}");
            var script = parse.GetValue(entrypoint);
            if (script is null && !File.Exists(Path.Combine(root, ConventionalScript)))
            {
                throw new UsageException($"{root} has no {ConventionalScript}; add one or pass --entrypoint");
            }
            var spec = SpecBuilder.Build(new SubmitArguments
            {
                Name = parse.GetValue(name) ?? DefaultName(Path.GetFileName(root)),
                Entrypoint = script,
                Data = parse.GetValue(data),
                Cpu = parse.GetValue(cpu),
                Memory = parse.GetValue(memory),
                Gpus = parse.GetValue(gpus),
                Timeout = parse.GetValue(timeout),
                Workers = parse.GetValue(workers),
                OnQuotaExceeded = parse.GetValue(onQuotaExceeded),
                Hyperparameters = parse.GetValue(hyperparameters) ?? [],
                Env = parse.GetValue(env) ?? [],
            }, cli.WorkingDirectory);

            spec = spec with { Environment = EnvironmentOf(cli.Error, root, parse.GetValue(requirements), parse.GetValue(noRequirements), cli.WorkingDirectory) };
            using var client = cli.Clients.Create(cli.ResolveConnection(parse));
            var localData = Uploader.LocalPath(spec.DataPath, cli.WorkingDirectory);
            // Refused before anything is packed or uploaded: a bad spec or a full quota costs no upload.
            await client.Jobs.CheckAsync(spec with { CodeArtifact = ArtifactUri.ToBeUploaded, DataPath = localData is null ? spec.DataPath : ArtifactUri.ToBeUploaded }, token);
            spec = spec with
            {
                // The data goes up once, as the job's data, not a second time inside its code.
                CodeArtifact = await PackAndUploadAsync(cli.Error, client, root, spec.Name!, token, exclude: localData),
                DataPath = await Uploader.UploadIfLocalAsync(cli.Error, client, spec.DataPath, cli.WorkingDirectory, token),
            };
            return await SubmitCommand.ExecuteAsync(cli.Out, client, spec, cli.Format(parse), token);
        }, ct));
        return command;
    }

    /// <summary>Packs a project folder as <c>strata run</c> does, uploads it and returns its <c>artifact://</c> URI.</summary>
    public static async Task<string> PackAndUploadAsync(IAnsiConsole progress, StrataClient client, string root, string jobName, CancellationToken cancellationToken, string? exclude = null)
    {
        var packed = Pack(progress, root, exclude);
        try
        {
            progress.MarkupLine($"[grey]Packed {packed.Files} files ({Output.Bytes(packed.Bytes)}) from {Markup.Escape(root)}[/]");
            foreach (var link in packed.SkippedLinks)
            {
                progress.MarkupLine($"[yellow]Skipped the symbolic link {Markup.Escape(link)} (links are not packed)[/]");
            }
            var code = await Uploader.UploadFileAsync(progress, client, packed.ArchivePath, jobName + ".tar.gz", ArtifactKinds.Archive, cancellationToken);
            return code.Uri;
        }
        finally
        {
            File.Delete(packed.ArchivePath);
        }
    }

    /// <summary>
    /// Packs with a progress bar on a terminal, as the upload shows one; elsewhere (a CI log, a pipe) a whole line
    /// before it starts, never a line rewritten in place.
    /// </summary>
    private static PackResult Pack(IAnsiConsole console, string root, string? exclude)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            return CodePacker.Pack(root, p =>
            {
                if (p.Files == 0) console.MarkupLine($"[grey]Packing {p.TotalFiles} files ({Output.Bytes(p.TotalBytes)}) from {Markup.Escape(root)}[/]");
            }, exclude);
        }

        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn())
            .Start(context =>
            {
                var task = context.AddTask($"Packing {Markup.Escape(Path.GetFileName(root))}");
                var result = CodePacker.Pack(root, p =>
                {
                    task.MaxValue = Math.Max(p.TotalBytes, 1);
                    task.Value = p.Bytes;
                }, exclude);
                task.Value = task.MaxValue;
                return result;
            });
    }

    /// <summary>
    /// The job's Python environment (docs/environments.md): built from <c>--requirements</c>, or from the folder's own
    /// <c>requirements.txt</c> when it has one, said in one line; none with <c>--no-requirements</c>. The file travels
    /// with the packed code, so it must lie in the folder.
    /// </summary>
    public static EnvironmentSpec? EnvironmentOf(IAnsiConsole progress, string root, string? requirements, bool none, string workingDirectory)
    {
        if (none)
        {
            if (requirements is not null) throw new UsageException("--requirements and --no-requirements cannot be combined");
            return null;
        }
        var file = requirements is null ? Path.Combine(root, "requirements.txt") : Path.GetFullPath(requirements, workingDirectory);
        if (requirements is null && !File.Exists(file)) return null;
        var relative = Path.GetRelativePath(root, file);
        if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            throw new UsageException($"--requirements: {file} is not in {root}, which is what the job gets");
        }
        if (!File.Exists(file)) throw new UsageException($"--requirements: there is no file {file}");
        relative = relative.Replace(Path.DirectorySeparatorChar, '/');
        progress.MarkupLine($"[grey]Using {Markup.Escape(relative)} for the job's Python environment (--no-requirements skips it)[/]");
        return new EnvironmentSpec { Requirements = System.Text.Json.JsonSerializer.SerializeToElement(relative) };
    }

    /// <summary>The folder's name as a DNS label, with a random suffix so that runs of one project do not collide.</summary>
    public static string DefaultName(string folderName, string? suffix = null)
    {
        var label = NotLabel().Replace(folderName.ToLowerInvariant(), "-").Trim('-');
        if (label.Length > 40) label = label[..40].TrimEnd('-');
        if (label.Length == 0 || !char.IsAsciiLetter(label[0])) label = "run" + (label.Length == 0 ? "" : "-" + label);
        return $"{label}-{suffix ?? Guid.NewGuid().ToString("N")[..6]}";
    }

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NotLabel();
}
