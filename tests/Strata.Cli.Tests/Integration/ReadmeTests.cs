using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Integration;

/// <summary>
/// The README works when typed: every fenced <c>bash</c> block of README.md runs, top to bottom, in one shell, against
/// the real server, as a user in a fresh clone would type it, and must exit 0. The only changes made to what is typed:
/// <list type="bullet">
/// <item><c>&lt;id&gt;</c> and <c>&lt;other-id&gt;</c> become the tenant's newest and second-newest job (the ids a user
/// copies from the output above them);</item>
/// <item>the server's address (<c>http://localhost:8080</c>) becomes the test server's;</item>
/// <item><c>scripts/install-cli</c> is stood in for by the CLI this build made, as <c>strata</c> on PATH (packing a
/// global tool in every test run would rebuild the CLI and write to the user's NuGet cache).</item>
/// </list>
/// A block preceded by <c>&lt;!-- readme-test: skip: why --&gt;</c> is not run; the reason is required.
/// </summary>
public sealed class ReadmeTests
{
    private const string DocumentedUrl = "http://localhost:8080";
    private const string SkipMarker = "<!-- readme-test: skip:";

    [Fact]
    public async Task Every_bash_block_of_the_README_runs_as_typed()
    {
        var root = RepositoryRoot();
        var blocks = BashBlocks(File.ReadAllLines(Path.Combine(root, "README.md")));
        Assert.Contains(blocks, block => !block.Skipped);

        using var server = new ServerProcess();
        // A fresh clone's folders the README uses, with the server's data folder where `dotnet run` puts it.
        var clone = Directory.CreateDirectory(Path.Combine(server.Root, "clone")).FullName;
        CopyFolder(Path.Combine(root, "examples"), Path.Combine(clone, "examples"));
        CopyFolder(Path.Combine(root, "sdk"), Path.Combine(clone, "sdk"));
        File.CreateSymbolicLink(Path.Combine(clone, ".strata"), server.DataPath);
        await server.StartAsync();

        var script = Script(blocks, server.Url.ToString().TrimEnd('/'));
        var (exitCode, output) = await RunBashAsync(script, clone, server.Root);
        Assert.True(exitCode == 0, $"the README failed (exit {exitCode}); the last block started is the one at fault:\n{Tail(output, 120)}\n--- server log:\n{server.LogTail(40)}");
    }

    [Fact]
    public void Every_skipped_block_says_why()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "README.md"));
        foreach (var line in lines.Where(l => l.TrimStart().StartsWith(SkipMarker, StringComparison.Ordinal)))
        {
            var reason = line.Trim()[SkipMarker.Length..].Replace("-->", "", StringComparison.Ordinal).Trim();
            Assert.True(reason.Length > 10, $"a README block is skipped without a reason: {line}");
        }
    }

    private sealed record Block(int Line, string Text, bool Skipped);

    /// <summary>The fenced <c>bash</c> blocks, with the line each starts on and whether a skip marker precedes it.</summary>
    private static List<Block> BashBlocks(string[] lines)
    {
        var blocks = new List<Block>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```bash") continue;
            var previous = i - 1;
            while (previous >= 0 && lines[previous].Trim().Length == 0) previous--;
            var skipped = previous >= 0 && lines[previous].TrimStart().StartsWith(SkipMarker, StringComparison.Ordinal);
            var body = new StringBuilder();
            var start = i + 1;
            for (i++; i < lines.Length && lines[i].Trim() != "```"; i++) body.AppendLine(lines[i]);
            blocks.Add(new Block(start + 1, body.ToString(), skipped));
        }

        return blocks;
    }

    private static string Script(List<Block> blocks, string serverUrl)
    {
        var script = new StringBuilder();
        script.AppendLine("set -euo pipefail");
        // The N-th newest job of the tenant logged in: what a user would copy from `strata jobs list`.
        script.AppendLine("""readme_job() { strata jobs list -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)[int(sys.argv[1]) - 1]["id"])' "$1"; }""");
        foreach (var block in blocks.Where(b => !b.Skipped))
        {
            script.AppendLine($"echo '### README.md line {block.Line}' >&2");
            script.AppendLine(Typed(block.Text, serverUrl));
        }

        return script.ToString();
    }

    /// <summary>What a user types for a block: the documented ids and address made real (see the class comment).</summary>
    private static string Typed(string block, string serverUrl)
    {
        var text = block
            .Replace("<other-id>", "$(readme_job 2)", StringComparison.Ordinal)
            .Replace("<id>", "$(readme_job 1)", StringComparison.Ordinal)
            .Replace(DocumentedUrl, serverUrl, StringComparison.Ordinal);
        return Regex.Replace(text, @"^scripts/install-cli\b.*$", ": the CLI of this build stands in for scripts/install-cli", RegexOptions.Multiline);
    }

    private static async Task<(int ExitCode, string Output)> RunBashAsync(string script, string folder, string scratch)
    {
        // `strata` is the CLI this build made; HOME is the test's, so its login and contexts are the test's own.
        var bin = Directory.CreateDirectory(Path.Combine(scratch, "bin")).FullName;
        var shim = Path.Combine(bin, "strata");
        File.WriteAllText(shim, $"#!/bin/sh\nexec dotnet \"{Path.Combine(AppContext.BaseDirectory, "strata.dll")}\" \"$@\"\n");
        File.SetUnixFileMode(shim, (UnixFileMode)Convert.ToInt32("755", 8));
        var scriptPath = Path.Combine(scratch, "readme.sh");
        await File.WriteAllTextAsync(scriptPath, script);

        var start = new ProcessStartInfo("/bin/bash", [scriptPath])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["HOME"] = Directory.CreateDirectory(Path.Combine(scratch, "home")).FullName;
        foreach (var name in new[] { "XDG_CONFIG_HOME", "STRATA_CONFIG", "STRATA_URL", "STRATA_API_URL", "STRATA_TOKEN" }) start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        // Both streams in one text, in the order they came, so that a failure shows the block it was in.
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync();
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var folder in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(folder);
            if (name is "bin" or "obj" or "__pycache__" or ".venv") continue;
            CopyFolder(folder, Path.Combine(to, name));
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Strata.slnx"))) directory = directory.Parent;
        return directory!.FullName;
    }
}
