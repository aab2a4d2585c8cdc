using Strata.Server.Tests.Process;
using Strata.Server.Tests.Support;

namespace Strata.Server.Tests.Artifacts;

/// <summary>An app that keeps ended attempts' logs, checkpoints and unused cached inputs for one second, and sweeps every second.</summary>
public sealed class ShortRetentionApp : StrataApp
{
    public ShortRetentionApp() : base(StorageKind.Sqlite, new Dictionary<string, string?>
    {
        ["Strata:DiskSweepSeconds"] = "1",
        ["Jobs:Retention"] = "00:00:01",
        ["Artifacts:InputCacheRetention"] = "00:00:01",
    })
    {
    }
}

/// <summary>What the server keeps on disk goes once its retention is over, never while a job still needs it; and leftovers go at start.</summary>
public sealed class DiskRetentionTests(ShortRetentionApp app) : IClassFixture<ShortRetentionApp>
{
    [Fact]
    public async Task After_the_retention_an_ended_attempts_folder_and_checkpoints_are_removed_and_its_logs_answer_empty()
    {
        var (tenant, client) = await app.TenantClientAsync("retention");
        using var _ = client;
        var job = await StrataApp.SubmitAsync(client, new { name = "short-lived", entrypoint = "echo hello; echo saved > \"$STRATA_CHECKPOINT_DIR/step-1\"" });
        var id = job.GetProperty("id").GetString()!;
        var done = await StrataApp.WaitForEndAsync(client, id);
        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());

        var attempt = Path.Combine(app.DataPath, "attempts", tenant, $"{id}-1");
        var checkpoints = Path.Combine(app.DataPath, "checkpoints", id);
        await Wait.UntilAsync(() => Task.FromResult(!Directory.Exists(attempt) && !Directory.Exists(checkpoints)), "the attempt folder and the checkpoints to be removed");

        // As for a job that wrote no log.
        Assert.Equal("", await InputCacheTests.LogsAsync(client, id));
        using var get = await client.GetAsync($"/v1/jobs/training/{id}");
        Assert.Equal("succeeded", (await Http.ExpectAsync(get, 200)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_cached_input_is_kept_while_a_running_attempt_uses_it_and_removed_once_unused()
    {
        var (tenant, client) = await app.TenantClientAsync("inuse");
        using var _ = client;
        var keptContent = $"{Guid.NewGuid():N}\n";
        var kept = TestArchives.Create(TestEntry.File("y.txt", keptContent));
        var dropped = TestArchives.Create(TestEntry.File("x.txt", $"{Guid.NewGuid():N}\n"));
        var keptData = await ArtifactApiTests<ShortRetentionApp>.UploadAsync(client, kept, "kept.tar.gz");
        var droppedData = await ArtifactApiTests<ShortRetentionApp>.UploadAsync(client, dropped, "dropped.tar.gz");
        var keptEntry = Path.Combine(app.DataPath, "inputs", tenant, InputCacheTests.Sha256(kept));
        var droppedEntry = Path.Combine(app.DataPath, "inputs", tenant, InputCacheTests.Sha256(dropped));

        // A job that holds its input until the test lets it go (a file in its checkpoint folder, which the sweep
        // keeps while the job runs), then copies it to its output (its log may be swept as soon as it ends).
        var running = await StrataApp.SubmitAsync(client, new
        {
            name = "holds",
            entrypoint = "touch \"$STRATA_CHECKPOINT_DIR/started\"; while [ ! -e \"$STRATA_CHECKPOINT_DIR/go\" ]; do sleep 0.1; done; cp \"$DATA_PATH/y.txt\" \"$MODEL_OUTPUT_PATH/\"",
            data_path = keptData.GetProperty("uri").GetString(),
        });
        var runningId = running.GetProperty("id").GetString()!;
        var checkpoints = Path.Combine(app.DataPath, "checkpoints", runningId);
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(Path.Combine(checkpoints, "started"))), "the first job to run");
        Assert.True(Directory.Exists(Path.Combine(keptEntry, "tree")));

        // Another job's input, unused once it ends: its removal shows a collection ran after the first job took its input.
        var other = await StrataApp.SubmitAsync(client, new { name = "done", entrypoint = "cat \"$DATA_PATH/x.txt\"", data_path = droppedData.GetProperty("uri").GetString() });
        Assert.Equal("succeeded", (await StrataApp.WaitForEndAsync(client, other.GetProperty("id").GetString()!)).GetProperty("status").GetString());
        await Wait.UntilAsync(() => Task.FromResult(!Directory.Exists(droppedEntry)), "the unused cache entry to be removed");
        Assert.True(Directory.Exists(Path.Combine(keptEntry, "tree")), "The entry a running attempt uses was removed.");

        await File.WriteAllTextAsync(Path.Combine(checkpoints, "go"), "");
        var done = await StrataApp.WaitForEndAsync(client, runningId);
        Assert.True(done.GetProperty("status").GetString() == "succeeded", done.ToString());
        Assert.Equal(keptContent, await File.ReadAllTextAsync(Path.Combine(done.GetProperty("spec").GetProperty("model_output_path").GetString()!, "y.txt")));
        await Wait.UntilAsync(() => Task.FromResult(!Directory.Exists(keptEntry)), "the entry to be removed once its attempt ended");
    }
}

/// <summary>Leftovers of a server that was killed mid-way are removed when the next one starts.</summary>
public sealed class LeftoverTests
{
    [Fact]
    public async Task Partial_uploads_and_half_built_cache_entries_an_hour_old_are_removed_at_start()
    {
        await using var app = new StrataApp();
        await app.StartIfNeededAsync();
        var uploads = Path.Combine(app.DataPath, "uploads");
        var entry = Path.Combine(app.DataPath, "inputs", "some-tenant", new string('a', 64));
        Directory.CreateDirectory(uploads);
        var leftovers = new[]
        {
            Path.Combine(uploads, Guid.NewGuid().ToString()),
            Path.Combine(entry, ".tmp-half-extracted"),
            Path.Combine(Path.GetDirectoryName(entry)!, ".tmp-half-removed"),
        };
        // A replica sharing the data folder could be writing these now: they stay.
        var recent = new[] { Path.Combine(uploads, Guid.NewGuid().ToString()), Path.Combine(entry, ".tmp-being-extracted") };
        foreach (var path in leftovers.Concat(recent))
        {
            if (Path.GetFileName(path).StartsWith(".tmp-", StringComparison.Ordinal))
            {
                Directory.CreateDirectory(Path.Combine(path, "sub"));
                File.SetUnixFileMode(Path.Combine(path, "sub"), (UnixFileMode)0x16D); // 0555, as a cache tree is
            }
            else
            {
                await File.WriteAllTextAsync(path, "partial");
            }
        }
        foreach (var path in leftovers)
        {
            if (Directory.Exists(path)) Directory.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-2));
            else File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddHours(-2));
        }

        await app.RestartAsync();

        Assert.All(leftovers, path => Assert.False(Path.Exists(path), $"{path} was left"));
        Assert.All(recent, path => Assert.True(Path.Exists(path), $"{path} was removed"));
    }
}
