using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Strata.Server.Tests.Process;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>An app that sweeps its disk every second, with the default retentions (so nothing it keeps goes during a test).</summary>
public sealed class InputCacheApp : StrataApp
{
    public InputCacheApp() : base(StorageKind.Sqlite, new Dictionary<string, string?> { ["Strata:DiskSweepSeconds"] = "1" }) { }
}

/// <summary>
/// The input cache as jobs see it: an artifact is extracted once per tenant and content, shared read-only by the
/// attempts that name it, and each attempt's working folder goes when it ends while its logs stay.
/// </summary>
public sealed class InputCacheTests(InputCacheApp app) : IClassFixture<InputCacheApp>
{
    private const UnixFileMode ReadOnlyFolder = (UnixFileMode)0x16D; // 0555
    private const UnixFileMode ReadOnlyFile = (UnixFileMode)0x124; // 0444

    [Fact]
    public async Task Two_jobs_with_the_same_data_archive_read_one_extraction_named_in_DATA_PATH()
    {
        var (tenant, client) = await app.TenantClientAsync("shared");
        using var _ = client;
        var marker = Guid.NewGuid().ToString("N");
        var bytes = TestArchives.Create(TestEntry.Folder("train/"), TestEntry.File("train/part-0.csv", $"a\n{marker}\n"), TestEntry.Symlink("latest.csv", "train/part-0.csv"));
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "dataset.tar.gz");
        var tree = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes), "tree");
        const string Entrypoint = "echo \"$DATA_PATH\"; stat -c %i \"$DATA_PATH\"; ls \"$DATA_PATH\"; cat \"$DATA_PATH/latest.csv\"";

        var first = await RunAsync(client, new { name = "reads-1", entrypoint = Entrypoint, data_path = data.GetProperty("uri").GetString() });
        var second = await RunAsync(client, new { name = "reads-2", entrypoint = Entrypoint, data_path = data.GetProperty("uri").GetString() });

        // Both read the cached folder itself: the same path, the same inode (a second extraction would be a new folder).
        var inode = Stat(tree, "%i");
        Assert.Equal($"{tree}\n{inode}\nlatest.csv\ntrain\na\n{marker}\n", first);
        Assert.Equal(first, second);
        Assert.Equal(["last-used", "tree"], Listing(Path.GetDirectoryName(tree)!));
        AssertReadOnly(tree);
    }

    [Fact]
    public async Task A_data_file_is_cached_under_its_name_and_read_only()
    {
        var (tenant, client) = await app.TenantClientAsync("file");
        using var _ = client;
        var bytes = Encoding.UTF8.GetBytes($"tenure,churned\n{Guid.NewGuid():N},1\n");
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "churn.csv");
        var cached = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes), "files", "churn.csv");

        var output = await RunAsync(client, new { name = "reads-file", entrypoint = "echo \"$DATA_PATH\"; cat \"$DATA_PATH\"", data_path = data.GetProperty("uri").GetString() });

        Assert.Equal($"{cached}\n{Encoding.UTF8.GetString(bytes)}", output);
        Assert.Equal(ReadOnlyFile, File.GetUnixFileMode(cached));
    }

    [Fact]
    public async Task A_job_cannot_change_its_cached_inputs()
    {
        var (tenant, client) = await app.TenantClientAsync("readonly");
        using var _ = client;
        var content = $"a\n{Guid.NewGuid():N}\n";
        var bytes = TestArchives.Create(TestEntry.Folder("d/"), TestEntry.File("d/a.csv", content));
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "dataset.tar.gz");
        var tree = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes), "tree");

        var output = await RunAsync(client, new
        {
            name = "tries-to-write",
            entrypoint = """
                cd "$DATA_PATH/d"; id -u
                if { echo x >> a.csv; } 2>/dev/null; then echo write=yes; else echo write=no; fi
                if { touch new.csv; } 2>/dev/null; then echo create=yes; else echo create=no; fi
                if { chmod 0666 a.csv; } 2>/dev/null; then echo chmod=yes; else echo chmod=no; fi
                if { rm -f a.csv; } 2>/dev/null && [ ! -e a.csv ]; then echo delete=yes; else echo delete=no; fi
                """,
            data_path = data.GetProperty("uri").GetString(),
        });

        // What holds whoever runs the job: the cache is the server's, and read-only for every uid, set-id bits never.
        var server = Stat(tree, "%u");
        Assert.Equal(server, Id("-u"));
        Assert.All(Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories).Prepend(tree), path => Assert.Equal(server, Stat(path, "%u")));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var jobUid = lines[0];
        // What the job could do depends on who runs it, so it is asserted where it can be honestly:
        // - root ignores file modes: without the sandbox (jobs run as the server's user, root here), a root job
        //   can write the cache, and nothing is asserted about it;
        // - any other uid cannot create, write or delete under 0555 folders and 0444 files;
        // - and only the owner may chmod: a job of another uid (the sandbox runs it as one, with DATA_PATH bound
        //   read-only) cannot. Once the sandbox lands, all four fail and are asserted here, wherever the tests run.
        if (jobUid != "0")
        {
            Assert.Equal(["write=no", "create=no"], lines[1..3]);
            Assert.Equal("delete=no", lines[4]);
            Assert.Equal(content, await File.ReadAllTextAsync(Path.Combine(tree, "d", "a.csv")));
            Assert.False(File.Exists(Path.Combine(tree, "d", "new.csv")));
        }
        if (jobUid != server)
        {
            Assert.Equal("chmod=no", lines[3]);
        }
    }

    [Fact]
    public async Task An_ended_jobs_working_folder_is_removed_its_logs_stay_and_the_next_job_gets_fresh_code()
    {
        var (tenant, client) = await app.TenantClientAsync("work");
        using var _ = client;
        var bytes = TestArchives.Create(TestEntry.File("run.sh", $"# {Guid.NewGuid():N}\n[ -e made-by-job ] && echo stale || echo fresh\necho changed > made-by-job\n"));
        var code = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "code.tar.gz");

        var job = await StrataApp.SubmitAsync(client, new { name = "works", entrypoint = "sh run.sh", code_artifact = code.GetProperty("uri").GetString() });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);
        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());

        var attempt = Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1");
        await Wait.UntilAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(attempt, "work"))), "the ended attempt's work folder to be removed");
        Assert.True(File.Exists(Path.Combine(attempt, "output.log")));
        Assert.True(File.Exists(Path.Combine(attempt, "result.json")));
        Assert.Equal("fresh\n", await LogsAsync(client, id));
        // The job changed its copy, never the cached code: the next job starts from the archive again.
        var tree = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes), "tree");
        Assert.Equal(["run.sh"], Listing(tree));
        Assert.Equal("fresh\n", await RunAsync(client, new { name = "works-again", entrypoint = "sh run.sh", code_artifact = code.GetProperty("uri").GetString() }));
    }

    [Fact]
    public async Task Two_jobs_started_together_with_the_same_archive_extract_it_once()
    {
        var (tenant, client) = await app.TenantClientAsync("concurrent");
        using var _ = client;
        // Enough entries that the extraction takes a while, for the second start to come while the first extracts.
        var files = Enumerable.Range(0, 400).Select(i => TestEntry.File($"f-{i:D3}.txt", $"{i} {Guid.NewGuid():N}\n")).ToArray();
        var bytes = TestArchives.Create(files);
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "many.tar.gz");
        var spec = (string name) => new { name, entrypoint = "stat -c %i \"$DATA_PATH\"; ls \"$DATA_PATH\" | wc -l; cat \"$DATA_PATH/f-399.txt\"", data_path = data.GetProperty("uri").GetString() };

        var jobs = await Task.WhenAll(StrataApp.SubmitAsync(client, spec("together-1")), StrataApp.SubmitAsync(client, spec("together-2")));
        var outputs = new List<string>();
        foreach (var job in jobs)
        {
            var id = job.GetProperty("id").GetString()!;
            var done = await StrataApp.WaitForEndAsync(client, id);
            var output = await LogsAsync(client, id);
            Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
            outputs.Add(output);
        }

        var entry = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes));
        Assert.Equal($"{Stat(Path.Combine(entry, "tree"), "%i")}\n400\n{files[399].Content}", outputs[0]);
        Assert.Equal(outputs[0], outputs[1]);
        Assert.Equal(["last-used", "tree"], Listing(entry));
        Assert.Equal(files.Select(f => f.Name).Order(StringComparer.Ordinal), Listing(Path.Combine(entry, "tree")));
    }

    [Fact]
    public async Task Set_id_bits_are_dropped_and_links_kept_in_the_cache()
    {
        var (tenant, client) = await app.TenantClientAsync("setid");
        using var _ = client;
        var bytes = TestArchives.Create(
            TestEntry.File("tool", $"#!/bin/sh\necho {Guid.NewGuid():N}\n", (UnixFileMode)0xDED), // 06755: setuid and setgid
            TestEntry.File("notes.txt", "notes\n", (UnixFileMode)0x3B6), // 01666: sticky, writable by all
            TestEntry.Symlink("link.txt", "notes.txt"));
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "tools.tar.gz");

        var output = await RunAsync(client, new { name = "setid", entrypoint = "cat \"$DATA_PATH/link.txt\"", data_path = data.GetProperty("uri").GetString() });

        Assert.Equal("notes\n", output);
        var tree = Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes), "tree");
        Assert.Equal(ReadOnlyFolder, File.GetUnixFileMode(Path.Combine(tree, "tool")));
        Assert.Equal(ReadOnlyFile, File.GetUnixFileMode(Path.Combine(tree, "notes.txt")));
        Assert.Equal("notes.txt", new FileInfo(Path.Combine(tree, "link.txt")).LinkTarget);
    }

    /// <summary>
    /// Archives are checked at upload, so a hostile one can only reach extraction if the stored bytes changed
    /// behind the server's back: the test swaps them in the local backend. The extraction refuses them as it did
    /// before the cache, and leaves nothing in it.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestArchives.HostileKinds), MemberType = typeof(TestArchives))]
    public async Task A_hostile_archive_that_reaches_extraction_fails_the_start_and_leaves_nothing_cached(string kind)
    {
        var (tenant, client) = await app.TenantClientAsync("hostile");
        using var _ = client;
        var bytes = TestArchives.Create(TestEntry.File("ok.txt", Guid.NewGuid().ToString("N")));
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "dataset.tar.gz");
        var id = data.GetProperty("id").GetString()!;
        await File.WriteAllBytesAsync(Path.Combine(app.DataPath, "blobs", tenant, id), TestArchives.Hostile(kind));

        var job = await StrataApp.SubmitAsync(client, new { name = "hostile", entrypoint = "ls \"$DATA_PATH\"", data_path = $"artifact://{id}", retry = new { max_attempts = 1 } });
        var done = await StrataApp.WaitForEndAsync(client, job.GetProperty("id").GetString()!);

        Assert.Equal("failed", done.GetProperty("status").GetString());
        Assert.Equal("start_failed", done.GetProperty("status_reason").GetString());
        Assert.Contains($"data_path: artifact {id} was not extracted", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.Empty(Listing(Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes))));
    }

    [Fact]
    public async Task Stored_bytes_that_do_not_match_the_artifacts_SHA_256_are_not_cached()
    {
        var (tenant, client) = await app.TenantClientAsync("mismatch");
        using var _ = client;
        var bytes = TestArchives.Create(TestEntry.File("ok.txt", Guid.NewGuid().ToString("N")));
        var data = await ArtifactApiTests<InputCacheApp>.UploadAsync(client, bytes, "dataset.tar.gz");
        var id = data.GetProperty("id").GetString()!;
        await File.WriteAllBytesAsync(Path.Combine(app.DataPath, "blobs", tenant, id), TestArchives.Create(TestEntry.File("other.txt", "swapped")));

        var job = await StrataApp.SubmitAsync(client, new { name = "mismatch", entrypoint = "ls \"$DATA_PATH\"", data_path = $"artifact://{id}", retry = new { max_attempts = 1 } });
        var done = await StrataApp.WaitForEndAsync(client, job.GetProperty("id").GetString()!);

        Assert.Equal("start_failed", done.GetProperty("status_reason").GetString());
        Assert.Contains("do not match the SHA-256", done.GetProperty("error_message").GetString(), StringComparison.Ordinal);
        Assert.Empty(Listing(Path.Combine(app.DataPath, "inputs", tenant, Sha256(bytes))));
    }

    internal static async Task<string> RunAsync(HttpClient client, object spec)
    {
        var job = await StrataApp.SubmitAsync(client, spec);
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);
        var output = await LogsAsync(client, id);
        Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{output}");
        return output;
    }

    internal static async Task<string> LogsAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync($"/v1/jobs/training/{id}/logs");
        Assert.Equal(200, (int)response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    internal static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The names in a folder (leftovers of a build, <c>.tmp-*</c>, included), sorted; none when it is missing.</summary>
    internal static string[] Listing(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFileSystemEntries(folder).Select(path => Path.GetFileName(path)).Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>Folders 0555, files 0444 or 0555, links as they are: nothing writable, nothing set-id, anywhere.</summary>
    private static void AssertReadOnly(string tree)
    {
        Assert.Equal(ReadOnlyFolder, File.GetUnixFileMode(tree));
        foreach (var path in Directory.EnumerateFileSystemEntries(tree, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null) continue;
            var mode = File.GetUnixFileMode(path);
            Assert.True(mode is ReadOnlyFolder or ReadOnlyFile, $"{path} has mode {Convert.ToString((int)mode, 8)}");
            if (Directory.Exists(path)) Assert.Equal(ReadOnlyFolder, mode);
        }
    }

    internal static string Stat(string path, string format) => Run("stat", "-c", format, path);

    private static string Id(string option) => Run("id", option);

    private static string Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
