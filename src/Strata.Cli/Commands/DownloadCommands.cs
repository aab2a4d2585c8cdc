using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata models download</c> and <c>strata jobs outputs</c>: what the server holds, brought to the user's disk, so
/// that a user who shares no disk with the server has the model and the outputs. The destination is an argument
/// (as for <c>cp</c>), not <c>-o</c>, which is the output format everywhere.
/// </summary>
public static class DownloadCommands
{
    public static Command ModelDownload(CliContext cli)
    {
        var reference = new Argument<string>("model") { Description = "name@version or name@alias (churn@3, churn:3, churn@production); a bare name is its latest version" };
        var destination = new Argument<string>("folder") { Description = "The folder to write the file into (made when missing)", DefaultValueFactory = _ => "." };
        var command = new Command("download", "Download a model version's file, checking its sha256") { reference, destination };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            DownloadModelAsync(cli.Out, cli.Error, client, parse.GetValue(reference)!, parse.GetValue(destination)!, cli.WorkingDirectory, cli.Format(parse), token),
            ct, $"model \"{parse.GetValue(reference)}\""));
        return command;
    }

    public static async Task<int> DownloadModelAsync(
        IAnsiConsole console, IAnsiConsole progress, StrataClient client, string reference, string destination, string workingDirectory, OutputFormat format, CancellationToken cancellationToken)
    {
        var (name, version) = ModelCommands.ParseReference(reference);
        var found = await client.Models.GetVersionAsync(name, version ?? "latest", cancellationToken);
        var folder = Directory.CreateDirectory(Path.GetFullPath(destination, workingDirectory)).FullName;
        var path = Path.Combine(folder, $"{found.ModelName}-{found.Version}{(found.Format == "onnx" ? ".onnx" : ".zip")}");
        var partial = path + ".part";
        try
        {
            // Hashed on the way to the disk: a hash algorithm passes what goes through a CryptoStream on unchanged.
            using var hash = SHA256.Create();
            await using (var file = new CryptoStream(File.Create(partial), hash, CryptoStreamMode.Write))
            {
                await WithProgressAsync(progress, $"{found.ModelName}@{found.Version}", found.SizeBytes,
                    report => client.Models.DownloadFileAsync(name, found.Version.ToString(CultureInfo.InvariantCulture), file, report, cancellationToken));
            }
            var sha256 = Convert.ToHexStringLower(hash.Hash!);
            if (sha256 != found.Sha256)
            {
                throw new IOException($"the downloaded file's sha256 is {sha256}, but version {found.Version} records {found.Sha256}: download it again");
            }
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
        if (Output.WriteData(console, format, new { model = found.ModelName, version = found.Version, path, size_bytes = found.SizeBytes, sha256 = found.Sha256 }, [path]))
        {
            return ExitCodes.Success;
        }
        console.MarkupLine($"Downloaded {Output.Esc($"{found.ModelName}@{found.Version}")} ({Output.Bytes(found.SizeBytes)}, sha256 {found.Sha256[..12]}, checked) to {Output.Esc(path)}");
        return ExitCodes.Success;
    }

    public static Command JobOutputs(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = JobCommands.ReferenceDescription };
        var destination = new Argument<string?>("folder") { Description = "Download every output file into this folder (made when missing); omitted: list them", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("outputs", "List a job's output files, or download them into a folder") { id, destination };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            JobOutputsAsync(cli.Out, cli.Error, client, parse.GetValue(id)!, parse.GetValue(destination), cli.WorkingDirectory, cli.Format(parse), token),
            ct, $"job \"{parse.GetValue(id)}\""));
        return command;
    }

    public static async Task<int> JobOutputsAsync(
        IAnsiConsole console, IAnsiConsole progress, StrataClient client, string id, string? destination, string workingDirectory, OutputFormat format, CancellationToken cancellationToken)
    {
        var listing = await client.Jobs.ListOutputsAsync(id, cancellationToken);
        if (destination is null)
        {
            if (Output.WriteData(console, format, listing, listing.Files.Select(f => f.Path))) return ExitCodes.Success;
            if (listing.Files.Length == 0)
            {
                console.WriteLine($"Job {id} has no output files.");
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("PATH", "SIZE", "MODIFIED");
            foreach (var file in listing.Files) table.AddRow(Output.Esc(file.Path), Output.Esc(Output.Bytes(file.SizeBytes)), Output.Esc(Output.Time(file.ModifiedAt)));
            console.Write(table);
            if (listing.Truncated) console.MarkupLine("[grey]The folder holds more entries than one listing shows; the rest are not listed.[/]");
            return ExitCodes.Success;
        }

        var root = Directory.CreateDirectory(Path.GetFullPath(destination, workingDirectory)).FullName;
        var written = new List<string>();
        foreach (var file in listing.Files)
        {
            // The server never lists a path that leaves the folder; the client does not trust that either.
            var target = Path.GetFullPath(Path.Combine(root, file.Path));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new IOException($"the server listed an output path outside the folder: {file.Path}");
            }
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var partial = target + ".part";
            try
            {
                await using (var stream = File.Create(partial))
                {
                    await WithProgressAsync(progress, file.Path, file.SizeBytes,
                        report => client.Jobs.DownloadOutputAsync(id, file.Path, stream, report, cancellationToken));
                }
                File.Move(partial, target, overwrite: true);
            }
            finally
            {
                File.Delete(partial);
            }
            written.Add(target);
        }
        if (Output.WriteData(console, format, written, written)) return ExitCodes.Success;
        console.MarkupLine($"Downloaded {written.Count} file{(written.Count == 1 ? "" : "s")} ({Output.Bytes(listing.Files.Sum(f => f.SizeBytes))}) to {Output.Esc(root)}");
        return ExitCodes.Success;
    }

    /// <summary>A bar on a terminal, as the upload shows; elsewhere one whole line when the file is done.</summary>
    private static async Task WithProgressAsync(IAnsiConsole console, string what, long length, Func<IProgress<long>?, Task<DownloadedFile>> download)
    {
        if (console.Profile.Capabilities.Interactive)
        {
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask($"Downloading {Markup.Escape(what)}", maxValue: Math.Max(length, 1));
                    await download(new Progress<long>(copied => task.Value = copied));
                    task.Value = task.MaxValue;
                });
            return;
        }
        var done = await download(null);
        console.MarkupLine($"[grey]Downloaded {Markup.Escape(what)} ({Output.Bytes(done.BytesCopied)})[/]");
    }
}
