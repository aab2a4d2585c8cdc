using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Strata.Server.Tests.Dashboards;

namespace Strata.Server.Tests.Deploy;

/// <summary>
/// The image's build stage builds. There is no container engine here, so the stage is replayed: a scratch
/// folder gets exactly what its <c>COPY</c> lines name (less what <c>Dockerfile.dockerignore</c> keeps out of the
/// build context), and its <c>RUN</c> commands run there. A project added to the build and not to the Dockerfile
/// fails here as it would in <c>docker build</c>.
/// </summary>
public sealed class DockerfileBuildTests
{
    private static readonly string[] Ignored = ["bin", "obj", ".strata"];

    [Fact]
    public async Task The_build_stage_publishes_the_server_and_its_worker_from_what_it_copies()
    {
        var root = DashboardFiles.RepositoryRoot;
        var stage = BuildStage(File.ReadAllLines(Path.Combine(root, "deploy", "Dockerfile")));
        var scratch = Directory.CreateTempSubdirectory("strata-image-build-").FullName;
        var output = Path.Combine(scratch, "out");
        try
        {
            var work = scratch;
            var log = new StringBuilder();
            var buildArguments = new Dictionary<string, string>();
            foreach (var (instruction, arguments) in stage)
            {
                switch (instruction)
                {
                    case "WORKDIR":
                        work = Path.Combine(scratch, arguments.Trim().TrimStart('/'));
                        Directory.CreateDirectory(work);
                        break;
                    case "COPY":
                        Copy(root, work, arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
                        break;
                    case "ARG":
                        var (name, value) = BuildArgument(arguments.Trim());
                        buildArguments[name] = value;
                        break;
                    case "RUN":
                        // The image's /out is the scratch folder's.
                        var command = arguments.Replace(" /out/", $" {output}/", StringComparison.Ordinal);
                        var (exitCode, text) = await RunAsync(work, command, buildArguments);
                        log.Append("$ ").AppendLine(command).AppendLine(text);
                        Assert.True(exitCode == 0, $"RUN {command} failed ({exitCode}):\n{log}");
                        break;
                    default:
                        Assert.Fail($"the build stage has an instruction this test does not replay: {instruction} {arguments}");
                        break;
                }
            }

            Assert.True(File.Exists(Path.Combine(output, "server", "strata-server.dll")), log.ToString());
            Assert.True(File.Exists(Path.Combine(output, "server", "worker", "strata-worker")), $"the worker is published beside the server:\n{log}");
            Assert.True(File.Exists(Path.Combine(output, "server", "python-sdk", "strata", "job.py")), $"the Python SDK is published beside the server for its jobs:\n{log}");
            // Published for the image's platform only: no other platform's native libraries travel in the image.
            // (A publish without a runtime identifier keeps every platform's libraries under runtimes/<rid>/.)
            var platformFolders = Directory.GetDirectories(output, "runtimes", SearchOption.AllDirectories)
                .SelectMany(Directory.GetDirectories)
                .Select(folder => Path.GetRelativePath(output, folder)).ToList();
            Assert.True(platformFolders.Count == 0, $"other platforms' libraries in the image: {string.Join(", ", platformFolders)}");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// <c>ARG NAME[=default]</c>: BuildKit gives the platform arguments (<c>TARGETARCH</c>) the platform being built
    /// for, here this machine's; any other argument takes its default.
    /// </summary>
    private static (string Name, string Value) BuildArgument(string declaration)
    {
        var equals = declaration.IndexOf('=');
        var name = equals < 0 ? declaration : declaration[..equals];
        var value = name switch
        {
            "TARGETARCH" => RuntimeInformation.OSArchitecture switch
            {
                System.Runtime.InteropServices.Architecture.X64 => "amd64",
                System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
                var other => other.ToString().ToLowerInvariant(),
            },
            _ => equals < 0 ? "" : declaration[(equals + 1)..],
        };
        return (name, value);
    }

    /// <summary>The instructions of the <c>AS build</c> stage, continuation lines joined, comments dropped.</summary>
    private static List<(string Instruction, string Arguments)> BuildStage(string[] lines)
    {
        var stage = new List<(string, string)>();
        var inBuild = false;
        var pending = new StringBuilder();
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0) continue;
            if (line.StartsWith("FROM ", StringComparison.Ordinal))
            {
                inBuild = line.EndsWith(" AS build", StringComparison.OrdinalIgnoreCase);
                continue;
            }
            if (!inBuild) continue;
            pending.Append(line.TrimEnd('\\').Trim()).Append(' ');
            if (line.EndsWith('\\')) continue;
            var text = pending.ToString().Trim();
            pending.Clear();
            var space = text.IndexOf(' ');
            stage.Add((text[..space], text[(space + 1)..]));
        }
        Assert.NotEmpty(stage);
        return stage;
    }

    /// <summary>COPY src... dest, relative to the build context (the repository root) and the working folder.</summary>
    private static void Copy(string context, string work, string[] arguments)
    {
        var destination = Path.Combine(work, arguments[^1]);
        foreach (var source in arguments[..^1])
        {
            var from = Path.Combine(context, source);
            if (Directory.Exists(from))
            {
                CopyFolder(from, destination);
            }
            else
            {
                Assert.True(File.Exists(from), $"COPY names {source}, which the repository does not have");
                var target = arguments[^1].EndsWith('/') ? Path.Combine(destination, Path.GetFileName(source)) : destination;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(from, target, overwrite: true);
            }
        }
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        foreach (var folder in Directory.GetDirectories(from))
        {
            if (Ignored.Contains(Path.GetFileName(folder))) continue;
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string folder, string command, IReadOnlyDictionary<string, string> buildArguments)
    {
        var start = new ProcessStartInfo("/bin/sh", ["-c", command])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The image builds from nothing but what it copies: no MSBuild node or build server of this test run is reused.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in buildArguments) start.Environment[name] = value;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
