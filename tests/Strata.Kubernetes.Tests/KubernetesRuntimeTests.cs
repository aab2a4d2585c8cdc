using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Runtime.Kubernetes;

namespace Strata.Kubernetes.Tests;

/// <summary>The Kubernetes runtime against the fake API server: submit → running → succeeded / failed / cancelled, errors, restarts.</summary>
public sealed class KubernetesRuntimeTests : IAsyncLifetime
{
    private ClusterHarness _cluster = null!;
    private const string Tenant = "team-a";
    private const string Ns = "ml-team-a";

    public async Task InitializeAsync()
    {
        _cluster = await ClusterHarness.StartAsync();
        await _cluster.AddTenantAsync(Tenant);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private static JobLaunch Launch(string jobId, int number = 1, int workers = 1) => new()
    {
        Attempt = new AttemptRef(Tenant, jobId, number),
        Entrypoint = "python train.py",
        Environment = new Dictionary<string, string> { ["STRATA_JOB_ID"] = jobId },
        Resources = ResourceRequest.FromGb(2, 4, 0),
        NumWorkers = workers,
    };

    private static string NewJobId() => Guid.CreateVersion7().ToString();

    /// <summary>Collects what the runtime's watch reports, in the background.</summary>
    private static (List<AttemptObservation> Seen, CancellationTokenSource Stop) Follow(KubernetesJobRuntime runtime)
    {
        var seen = new List<AttemptObservation>();
        var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var observation in runtime.WatchAsync(stop.Token))
                {
                    lock (seen) seen.Add(observation);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        return (seen, stop);
    }

    private static Task SeesAsync(List<AttemptObservation> seen, Func<AttemptObservation, bool> match, string what) =>
        ClusterHarness.EventuallyAsync(() => { lock (seen) return seen.Any(match); }, what);

    [Fact]
    public async Task Starting_an_attempt_provisions_the_namespace_and_creates_its_job()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);

        Assert.Equal(("kubernetes", $"strata-{jobId}-1", Ns), (info.Kind, info.Name, info.Namespace));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Namespaces, null, Ns));
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, Ns, TenantManifests.QuotaName));
        var job = _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!);
        Assert.NotNull(job);
        Assert.Equal(0, job["spec"]!["backoffLimit"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_attempts_token_lives_in_a_secret_owned_by_its_job_and_no_other_object_carries_it()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var token = "job-token-" + Guid.NewGuid().ToString("N");
        var launch = Launch(jobId, workers: 2);
        launch = launch with { Environment = new Dictionary<string, string>(launch.Environment) { ["STRATA_JOB_TOKEN"] = token } };
        var info = await runtime.StartAsync(launch, CancellationToken.None);
        _cluster.Api.AddPod(Ns, info.Name!, 0, containerState: null);

        var job = _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!)!;
        var env = job["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
        var tokenVariable = Assert.Single(env, e => e!["name"]!.GetValue<string>() == "STRATA_JOB_TOKEN")!;
        Assert.Null(tokenVariable["value"]);
        var reference = tokenVariable["valueFrom"]!["secretKeyRef"]!;
        Assert.Equal(($"{info.Name}-token", "token"), (reference["name"]!.GetValue<string>(), reference["key"]!.GetValue<string>()));

        var secret = _cluster.Api.Get(FakeKubernetesApi.Secrets, Ns, $"{info.Name}-token")!;
        Assert.Equal(token, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]!["token"]!.GetValue<string>())));
        var owner = Assert.Single(secret["metadata"]!["ownerReferences"]!.AsArray())!;
        Assert.Equal(("Job", info.Name, job["metadata"]!["uid"]!.GetValue<string>()),
            (owner["kind"]!.GetValue<string>(), owner["name"]!.GetValue<string>(), owner["uid"]!.GetValue<string>()));

        // Every other object (the namespace's, the Job, its pod, Service, policy and checkpoint claim) is free of it, in any encoding.
        var others = _cluster.Api.Everything().Where(o => o.Collection != FakeKubernetesApi.Secrets).ToList();
        Assert.Contains(others, o => o.Collection == FakeKubernetesApi.Pods);
        Assert.Contains(others, o => o.Collection == FakeKubernetesApi.Services);
        foreach (var (collection, item) in others)
        {
            var text = item.ToJsonString();
            Assert.False(text.Contains(token, StringComparison.Ordinal) || text.Contains(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(token)), StringComparison.Ordinal),
                $"{collection} {item["metadata"]!["name"]} carries the token");
        }
    }

    [Fact]
    public async Task The_token_secret_is_garbage_collected_with_its_job()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var launch = Launch(jobId);
        launch = launch with { Environment = new Dictionary<string, string>(launch.Environment) { ["STRATA_JOB_TOKEN"] = "secret-value" } };
        var info = await runtime.StartAsync(launch, CancellationToken.None);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Secrets, Ns, $"{info.Name}-token"));

        await runtime.StopAsync(launch.Attempt, CancellationToken.None);

        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!));
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Secrets, Ns, $"{info.Name}-token"));
        // The job's checkpoint claim is the job's, not the attempt's: it stays for the next attempt.
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.PersistentVolumeClaims, Ns, KubernetesNames.CheckpointClaimName(jobId)));
    }

    [Fact]
    public async Task A_job_is_reported_running_then_succeeded_through_the_watch()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);

        _cluster.Api.StartJob(Ns, info.Name!);
        await SeesAsync(seen, o => o.Attempt.JobId == jobId && !o.IsFinished, "running");
        var listed = Assert.Single(await runtime.ListAsync(CancellationToken.None), o => o.Attempt.JobId == jobId);
        Assert.False(listed.IsFinished);
        Assert.NotNull(listed.StartedAt);

        _cluster.Api.FinishJob(Ns, info.Name!, succeeded: true);
        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is AttemptOutcome.Succeeded, "succeeded");
        await stop.CancelAsync();
        // Status came from the watch: no Job was read one by one.
        Assert.Equal(0, _cluster.Api.CountRequests("GET", $"/jobs/{info.Name}"));
    }

    [Theory]
    [InlineData("PodFailurePolicy", 3, null, StatusReasons.ExitedWithError)]
    [InlineData("PodFailurePolicy", 137, "OOMKilled", StatusReasons.OutOfMemory)]
    [InlineData("DeadlineExceeded", null, null, StatusReasons.TimedOut)]
    [InlineData("BackoffLimitExceeded", null, null, StatusReasons.SupervisorLost)]
    public async Task A_failed_job_is_reported_with_the_reason_its_status_and_pods_give(string condition, int? exitCode, string? podReason, string expected)
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        if (exitCode is { } code)
        {
            _cluster.Api.AddPod(Ns, info.Name!, 0, new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = code, ["reason"] = podReason ?? "Error" } });
        }
        _cluster.Api.FinishJob(Ns, info.Name!, succeeded: false, reason: condition);

        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is { } outcome && outcome is not AttemptOutcome.Succeeded and not AttemptOutcome.Stopped, "failed");
        await stop.CancelAsync();
        var failed = seen.Last(o => o.Attempt.JobId == jobId);
        Assert.Equal(expected, failed.Outcome!.Reason);
        Assert.Equal(exitCode, failed.Outcome!.ExitCode);
        if (expected == StatusReasons.OutOfMemory)
        {
            // The limit from the pod's spec, in the unit the job asked in (compute.memory_gb: 4).
            Assert.StartsWith("killed for exceeding its memory limit of 4 GB (OOMKilled)", failed.Outcome.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_traceback_in_the_termination_message_is_the_outcomes_evidence()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        _cluster.Api.AddPod(Ns, info.Name!, 0, new JsonObject
        {
            ["terminated"] = new JsonObject
            {
                ["exitCode"] = 1,
                ["reason"] = "Error",
                ["message"] = "Traceback (most recent call last):\n  File \"train.py\", line 9, in <module>\nKeyError: 'lr'\n",
            },
        });
        _cluster.Api.FinishJob(Ns, info.Name!, succeeded: false, reason: "PodFailurePolicy");

        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is AttemptOutcome.ExitedWithError, "failed");
        await stop.CancelAsync();
        var failed = seen.Last(o => o.Attempt.JobId == jobId);
        Assert.Equal("KeyError: 'lr'", failed.Outcome!.Exception);
    }

    /// <summary>Fails a Job as its controller would after <paramref name="pods"/> happened, and returns the outcome the watch reports.</summary>
    private async Task<AttemptOutcome> FailedOutcomeAsync(int workers, Action<string> pods, string condition, string? message = null)
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId, workers: workers), CancellationToken.None);
        pods(info.Name!);
        _cluster.Api.FinishJob(Ns, info.Name!, succeeded: false, reason: condition, message: message);

        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.IsFinished, "failed");
        await stop.CancelAsync();
        lock (seen) return seen.Last(o => o.Attempt.JobId == jobId).Outcome!;
    }

    private static JsonObject Terminated(int exitCode, string reason = "Error", DateTime? finishedAt = null) => new()
    {
        ["terminated"] = new JsonObject
        {
            ["exitCode"] = exitCode,
            ["reason"] = reason,
            ["finishedAt"] = (finishedAt ?? DateTime.UtcNow).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        },
    };

    [Theory]
    [InlineData("PreemptionByScheduler")]
    [InlineData("EvictionByEvictionAPI")]
    [InlineData("DeletionByTaintManager")]
    [InlineData("TerminationByKubelet")]
    public async Task A_pod_the_cluster_took_away_is_reported_evicted_even_when_its_container_exited_from_the_kill(string reason)
    {
        var outcome = await FailedOutcomeAsync(1, job =>
        {
            var pod = _cluster.Api.AddPod(Ns, job, 0, Terminated(143));
            _cluster.Api.DisruptPod(Ns, pod["metadata"]!["name"]!.GetValue<string>(), reason);
        }, "PodFailurePolicy", "Pod ml-team-a/x has condition DisruptionTarget matching FailJob rule at index 0");

        var evicted = Assert.IsType<AttemptOutcome.Evicted>(outcome);
        Assert.Equal(StatusReasons.Evicted, evicted.Reason);
        Assert.Contains(reason, evicted.Describe(), StringComparison.Ordinal);
        Assert.True(evicted.IsInfrastructureFailure);
    }

    [Fact]
    public async Task A_disruption_whose_pod_is_gone_is_read_from_the_jobs_condition()
    {
        var outcome = await FailedOutcomeAsync(1, _ => { }, "PodFailurePolicy", "Pod ml-team-a/x has condition DisruptionTarget matching FailJob rule at index 0");
        Assert.IsType<AttemptOutcome.Evicted>(outcome);
    }

    [Fact]
    public async Task A_pod_lost_with_its_node_is_reported_lost()
    {
        var outcome = await FailedOutcomeAsync(1, job =>
        {
            var pod = _cluster.Api.AddPod(Ns, job, 0, new JsonObject { ["running"] = new JsonObject() });
            _cluster.Api.Update(FakeKubernetesApi.Pods, Ns, pod["metadata"]!["name"]!.GetValue<string>(), p =>
            {
                p["status"]!["phase"] = "Failed";
                p["status"]!["reason"] = "NodeLost";
            });
        }, "BackoffLimitExceeded");

        var lost = Assert.IsType<AttemptOutcome.SupervisorLost>(outcome);
        Assert.Contains("node was lost", lost.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gangs_end_is_the_rank_that_failed_first_not_the_ranks_stopped_after_it()
    {
        var outcome = await FailedOutcomeAsync(2, job =>
        {
            // Rank 1 exits 75; the Job controller then stops rank 0 (SIGTERM: 143).
            _cluster.Api.AddPod(Ns, job, 0, Terminated(143, finishedAt: DateTime.UtcNow));
            _cluster.Api.AddPod(Ns, job, 1, Terminated(75, finishedAt: DateTime.UtcNow.AddSeconds(-5)));
        }, "PodFailurePolicy");

        var exited = Assert.IsType<AttemptOutcome.ExitedWithError>(outcome);
        Assert.Equal(75, exited.ExitCode);
        Assert.Null(exited.Signal);
    }

    [Fact]
    public async Task An_oom_kill_of_any_rank_is_the_gangs_end()
    {
        var outcome = await FailedOutcomeAsync(2, job =>
        {
            _cluster.Api.AddPod(Ns, job, 0, Terminated(1, finishedAt: DateTime.UtcNow.AddSeconds(-5)));
            _cluster.Api.AddPod(Ns, job, 1, Terminated(137, "OOMKilled"));
        }, "PodFailurePolicy");

        Assert.Equal(137, Assert.IsType<AttemptOutcome.OutOfMemory>(outcome).ExitCode);
    }

    [Fact]
    public async Task A_job_gets_its_checkpoint_claim_before_its_first_attempt_and_later_attempts_reuse_it()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var claimName = $"strata-{jobId}-checkpoints";

        var first = await runtime.StartAsync(Launch(jobId, 1), CancellationToken.None);
        var claim = _cluster.Api.Get(FakeKubernetesApi.PersistentVolumeClaims, Ns, claimName);
        Assert.NotNull(claim);
        var claimApply = _cluster.Api.Requests.FindIndex(r => r.StartsWith("PATCH ", StringComparison.Ordinal) && r.Contains("/persistentvolumeclaims", StringComparison.Ordinal));
        var jobApply = _cluster.Api.Requests.FindIndex(r => r.StartsWith("PATCH ", StringComparison.Ordinal) && r.Contains("/jobs", StringComparison.Ordinal));
        Assert.True(claimApply >= 0 && claimApply < jobApply, "the claim is applied before the Job");
        _cluster.Api.FinishJob(Ns, first.Name!, succeeded: false);

        var second = await runtime.StartAsync(Launch(jobId, 2), CancellationToken.None);

        // The same claim, not created again: both attempts' pods mount it.
        var claims = _cluster.Api.List(FakeKubernetesApi.PersistentVolumeClaims, Ns);
        Assert.Equal(claim["metadata"]!["uid"]!.GetValue<string>(), Assert.Single(claims)["metadata"]!["uid"]!.GetValue<string>());
        foreach (var name in new[] { first.Name!, second.Name! })
        {
            var volumes = _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, name)!["spec"]!["template"]!["spec"]!["volumes"]!.AsArray();
            Assert.Contains(volumes, v => v!["persistentVolumeClaim"]?["claimName"]?.GetValue<string>() == claimName);
        }

        // An attempt's end leaves it; the job's removal takes it.
        await runtime.ForgetAsync(new AttemptRef(Tenant, jobId, 1), discardLogs: false, CancellationToken.None);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.PersistentVolumeClaims, Ns, claimName));
        await runtime.ForgetAsync(new AttemptRef(Tenant, jobId, 2), discardLogs: true, CancellationToken.None);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.PersistentVolumeClaims, Ns, claimName));
    }

    [Fact]
    public async Task The_sweep_deletes_the_claims_of_jobs_ended_longer_ago_than_the_ttl_or_gone_and_keeps_the_others()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var now = DateTimeOffset.UtcNow;
        var waiting = await AddJobAsync(JobStatus.Pending, completedAt: null);
        // Past the TTL, though well within Jobs:Retention (7 days): the TTL decides.
        var endedLongAgo = await AddJobAsync(JobStatus.Succeeded, now - TimeSpan.FromHours(25));
        var endedRecently = await AddJobAsync(JobStatus.Failed, now - TimeSpan.FromHours(1));
        var gone = NewJobId();
        foreach (var id in new[] { waiting, endedLongAgo, endedRecently, gone })
        {
            await runtime.StartAsync(Launch(id), CancellationToken.None);
        }

        // The job's TTL: a day after it ended.
        _cluster.Options.TtlSecondsAfterFinished = 86400;
        var sweep = new CheckpointVolumeSweep(_cluster.NewClusterApi(), _cluster.Store, Microsoft.Extensions.Options.Options.Create(_cluster.Options),
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<CheckpointVolumeSweep>.Instance);
        await sweep.SweepAsync(CancellationToken.None);

        var left = _cluster.Api.List(FakeKubernetesApi.PersistentVolumeClaims, Ns).Select(c => c["metadata"]!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { waiting, endedRecently }.Select(id => $"strata-{id}-checkpoints").Order(StringComparer.Ordinal), left);
    }

    private async Task<string> AddJobAsync(JobStatus status, DateTimeOffset? completedAt)
    {
        var id = NewJobId();
        await using var db = _cluster.Store.CreateContext();
        await db.Database.OpenConnectionAsync();
        Strata.Server.Storage.JobInserts.Insert(db, new Strata.Server.Storage.JobRecord { Id = id, TenantId = Tenant, Name = id, SpecJson = "{}", CreatedAt = DateTimeOffset.UtcNow });
        await db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(u => u.SetProperty(j => j.Status, status).SetProperty(j => j.CompletedAt, completedAt));
        return id;
    }

    [Fact]
    public async Task Checkpoint_claims_count_against_the_tenants_claim_quota()
    {
        _cluster.Options.TenantQuota = _cluster.Options.TenantQuota with { PersistentVolumeClaims = 1 };
        var (runtime, _) = _cluster.NewRuntime();
        var first = NewJobId();
        await runtime.StartAsync(Launch(first), CancellationToken.None);
        Assert.Equal("1", _cluster.Api.Get(FakeKubernetesApi.ResourceQuotas, Ns, TenantManifests.QuotaName)!["spec"]!["hard"]!["persistentvolumeclaims"]!.GetValue<string>());

        // A second job would be a second claim: over the quota, it does not start (and gets no Job).
        var second = NewJobId();
        var error = await Assert.ThrowsAsync<RuntimeStartException>(() => runtime.StartAsync(Launch(second), CancellationToken.None));
        Assert.Contains("exceeded quota", error.Message, StringComparison.Ordinal);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, KubernetesNames.JobName(new AttemptRef(Tenant, second, 1))));

        // The first job's next attempt reuses its claim: no new one, within the quota.
        await runtime.StartAsync(Launch(first, number: 2), CancellationToken.None);
        Assert.Single(_cluster.Api.List(FakeKubernetesApi.PersistentVolumeClaims, Ns));
    }

    [Fact]
    public async Task A_job_without_a_checkpoint_volume_gets_no_claim()
    {
        _cluster.Options.CheckpointVolumeGb = 0;
        var (runtime, _) = _cluster.NewRuntime();
        await runtime.StartAsync(Launch(NewJobId()), CancellationToken.None);

        Assert.Empty(_cluster.Api.List(FakeKubernetesApi.PersistentVolumeClaims, Ns));
    }

    [Fact]
    public async Task Stopping_deletes_the_job_in_the_background_and_is_reported_as_stopped()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        await SeesAsync(seen, o => o.Attempt.JobId == jobId, "the job seen");

        await runtime.StopAsync(new AttemptRef(Tenant, jobId, 1), CancellationToken.None);

        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!));
        Assert.Contains(_cluster.Api.Requests, r => r.StartsWith($"DELETE /apis/batch/v1/namespaces/{Ns}/jobs/{info.Name}", StringComparison.Ordinal));
        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is AttemptOutcome.Stopped, "stopped");
        await stop.CancelAsync();
        // Stopping again (the Job is gone: 404) is fine.
        await runtime.StopAsync(new AttemptRef(Tenant, jobId, 1), CancellationToken.None);
    }

    [Fact]
    public async Task A_job_deleted_outside_strata_is_reported_lost_so_that_it_is_retried()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        await SeesAsync(seen, o => o.Attempt.JobId == jobId, "the job seen");

        _cluster.Api.Remove(FakeKubernetesApi.Jobs, Ns, info.Name!);

        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is AttemptOutcome.SupervisorLost, "lost");
        await stop.CancelAsync();
    }

    [Fact]
    public async Task Starting_the_same_attempt_twice_creates_one_job()
    {
        var (runtime, _) = _cluster.NewRuntime();
        await _cluster.NewProvisioner().ProvisionAsync(Tenant, CancellationToken.None);
        var jobId = NewJobId();
        var first = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        var second = await runtime.StartAsync(Launch(jobId), CancellationToken.None);

        Assert.Equal(first, second);
        Assert.Single(_cluster.Api.List(FakeKubernetesApi.Jobs, Ns));
        Assert.Equal(2, _cluster.Api.CountApplies("/jobs"));
    }

    [Fact]
    public async Task A_restarted_server_relists_and_converges_without_creating_anything_twice()
    {
        var (before, _) = _cluster.NewRuntime();
        var running = NewJobId();
        var finished = NewJobId();
        await before.StartAsync(Launch(running), CancellationToken.None);
        var done = await before.StartAsync(Launch(finished), CancellationToken.None);
        _cluster.Api.FinishJob(Ns, done.Name!, succeeded: true);
        before.Dispose();

        var (after, _) = _cluster.NewRuntime();
        var observed = await after.ListAsync(CancellationToken.None);
        Assert.False(Assert.Single(observed, o => o.Attempt.JobId == running).IsFinished);
        Assert.IsType<AttemptOutcome.Succeeded>(Assert.Single(observed, o => o.Attempt.JobId == finished).Outcome);

        // The reconciler starts what the store says is starting: idempotent, so nothing new is created.
        await after.StartAsync(Launch(running), CancellationToken.None);
        Assert.Equal(2, _cluster.Api.List(FakeKubernetesApi.Jobs, Ns).Count);

        // A finished attempt the store has recorded is forgotten: no longer listed, its Job (and logs) kept.
        await after.ForgetAsync(new AttemptRef(Tenant, finished, 1), discardLogs: false, CancellationToken.None);
        Assert.DoesNotContain(await after.ListAsync(CancellationToken.None), o => o.Attempt.JobId == finished);
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, done.Name!));
    }

    [Fact]
    public async Task An_expired_watch_410_gone_is_followed_by_a_relist_that_reports_what_changed_meanwhile()
    {
        var (runtime, watcher) = _cluster.NewRuntime();
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        await SeesAsync(seen, o => o.Attempt.JobId == jobId, "the job seen");
        await ClusterHarness.EventuallyAsync(() => _cluster.Api.OpenWatches == 1, "the watch open");
        var lists = watcher.Lists;

        // The job finishes while the watch is down, and the history it would resume from is compacted away
        // before it can reopen.
        _cluster.Api.CompactWhileWatchesAreDown(() => _cluster.Api.FinishJob(Ns, info.Name!, succeeded: true));

        await SeesAsync(seen, o => o.Attempt.JobId == jobId && o.Outcome is AttemptOutcome.Succeeded, "succeeded after the re-list");
        Assert.True(watcher.Lists > lists);
        Assert.Contains(_cluster.Api.Requests, r => r.Contains("watch=true", StringComparison.Ordinal));
        await stop.CancelAsync();
    }

    [Theory]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task A_busy_or_failing_api_server_is_retried(int status)
    {
        var (runtime, _) = _cluster.NewRuntime();
        await _cluster.NewProvisioner().ProvisionAsync(Tenant, CancellationToken.None);
        _cluster.Api.FailNext("PATCH", "/jobs", status);
        var jobId = NewJobId();

        await runtime.StartAsync(Launch(jobId), CancellationToken.None);

        Assert.Single(_cluster.Api.List(FakeKubernetesApi.Jobs, Ns));
        Assert.Equal(2, _cluster.Api.CountApplies("/jobs"));
    }

    [Fact]
    public async Task A_watch_that_fails_with_500_backs_off_and_watches_again()
    {
        var (runtime, watcher) = _cluster.NewRuntime();
        _cluster.Api.FailNext("GET", "/apis/batch/v1/jobs", 500);
        var (seen, stop) = Follow(runtime);
        var jobId = NewJobId();
        await runtime.StartAsync(Launch(jobId), CancellationToken.None);

        await SeesAsync(seen, o => o.Attempt.JobId == jobId, "the job seen after the failure");
        await stop.CancelAsync();
    }

    [Fact]
    public async Task A_job_kubernetes_refuses_is_a_permanent_start_failure()
    {
        var (runtime, _) = _cluster.NewRuntime();
        await _cluster.NewProvisioner().ProvisionAsync(Tenant, CancellationToken.None);
        _cluster.Api.FailNext("PATCH", "/jobs", 403);

        var error = await Assert.ThrowsAsync<RuntimeStartException>(() => runtime.StartAsync(Launch(NewJobId()), CancellationToken.None));
        Assert.Contains("403", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_field_another_manager_took_over_fails_the_start_with_the_conflict_and_is_kept()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        _cluster.Api.Update(FakeKubernetesApi.Jobs, Ns, info.Name!, job => job["spec"]!["parallelism"] = 2);

        var error = await Assert.ThrowsAsync<RuntimeStartException>(() => runtime.StartAsync(Launch(jobId), CancellationToken.None));

        Assert.Contains("conflict with \"kubectl-edit\": .spec.parallelism", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!)!["spec"]!["parallelism"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_server_configured_otherwise_adopts_the_attempts_job_as_it_was_created()
    {
        var (before, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var info = await before.StartAsync(Launch(jobId), CancellationToken.None);

        // Restarted with another default image: the Job's pod template cannot change (422), and the attempt goes on.
        _cluster.Options.DefaultImage = "strata:next";
        var (after, _) = _cluster.NewRuntime();
        Assert.Equal(info, await after.StartAsync(Launch(jobId), CancellationToken.None));

        var job = _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!)!;
        Assert.Equal("strata:test", job["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_distributed_job_gets_its_headless_service_and_workers_policy_once()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId, workers: 3), CancellationToken.None);
        await runtime.StartAsync(Launch(jobId, workers: 3), CancellationToken.None);

        var job = _cluster.Api.Get(FakeKubernetesApi.Jobs, Ns, info.Name!)!;
        Assert.Equal("Indexed", job["spec"]!["completionMode"]!.GetValue<string>());
        Assert.Equal(3, job["spec"]!["parallelism"]!.GetValue<int>());
        var service = _cluster.Api.Get(FakeKubernetesApi.Services, Ns, info.Name!)!;
        Assert.Equal("None", service["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal(job["metadata"]!["uid"]!.GetValue<string>(), service["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        Assert.NotNull(_cluster.Api.Get(FakeKubernetesApi.NetworkPolicies, Ns, info.Name!));

        // The gang goes together: deleting the Job takes its Service and policy with it.
        await runtime.StopAsync(new AttemptRef(Tenant, jobId, 1), CancellationToken.None);
        Assert.Null(_cluster.Api.Get(FakeKubernetesApi.Services, Ns, info.Name!));
    }

    [Fact]
    public async Task Logs_come_from_the_pods_log_of_rank_0_with_the_tail_applied_by_kubernetes()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var attempt = new AttemptRef(Tenant, jobId, 1);
        var info = await runtime.StartAsync(Launch(jobId, workers: 2), CancellationToken.None);
        Assert.Null(await runtime.OpenLogAsync(attempt, new LogOptions(false, null), CancellationToken.None));

        var rank1 = _cluster.Api.AddPod(Ns, info.Name!, 1, new JsonObject { ["running"] = new JsonObject() });
        var rank0 = _cluster.Api.AddPod(Ns, info.Name!, 0, new JsonObject { ["running"] = new JsonObject() });
        _cluster.Api.SetLog(Ns, rank1["metadata"]!["name"]!.GetValue<string>(), "worker 1\n");
        _cluster.Api.SetLog(Ns, rank0["metadata"]!["name"]!.GetValue<string>(), "epoch 1\nepoch 2\nepoch 3\n");

        await using var log = await runtime.OpenLogAsync(attempt, new LogOptions(false, 2), CancellationToken.None);
        Assert.NotNull(log);
        using var reader = new StreamReader(log);
        Assert.Equal("epoch 2\nepoch 3\n", await reader.ReadToEndAsync());
        Assert.Contains(_cluster.Api.Requests, r => r.Contains("/log?", StringComparison.Ordinal) && r.Contains("tailLines=2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Logs_of_one_rank_or_of_every_rank_interleaved_in_the_order_they_were_written()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var attempt = new AttemptRef(Tenant, jobId, 1);
        var info = await runtime.StartAsync(Launch(jobId, workers: 2), CancellationToken.None);
        var rank0 = _cluster.Api.AddPod(Ns, info.Name!, 0, new JsonObject { ["running"] = new JsonObject() });
        var rank1 = _cluster.Api.AddPod(Ns, info.Name!, 1, new JsonObject { ["running"] = new JsonObject() });
        var t = new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc);
        _cluster.Api.SetLog(Ns, rank0["metadata"]!["name"]!.GetValue<string>(), (t, "loading"), (t.AddMilliseconds(30), "epoch 1 loss 0.9"));
        _cluster.Api.SetLog(Ns, rank1["metadata"]!["name"]!.GetValue<string>(), (t.AddMilliseconds(10), "loading"), (t.AddMilliseconds(20), "epoch 1"));

        Assert.Equal("loading\nepoch 1\n", await ReadLogAsync(runtime, attempt, new LogOptions(false, null, Rank: 1)));
        Assert.Null(await runtime.OpenLogAsync(attempt, new LogOptions(false, null, Rank: 2), CancellationToken.None));
        Assert.Equal(
            "[rank 0] loading\n[rank 1] loading\n[rank 1] epoch 1\n[rank 0] epoch 1 loss 0.9\n",
            await ReadLogAsync(runtime, attempt, new LogOptions(false, null, LogOptions.AllRanks)));
        // The tail is each rank's.
        Assert.Equal(
            "[rank 1] epoch 1\n[rank 0] epoch 1 loss 0.9\n",
            await ReadLogAsync(runtime, attempt, new LogOptions(false, 1, LogOptions.AllRanks)));
        // Followed, the lines come as they arrive: every one of them, prefixed.
        var followed = (await ReadLogAsync(runtime, attempt, new LogOptions(true, null, LogOptions.AllRanks))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["[rank 0] epoch 1 loss 0.9", "[rank 0] loading", "[rank 1] epoch 1", "[rank 1] loading"], followed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_log_of_a_single_worker_job_is_rank_0()
    {
        var (runtime, _) = _cluster.NewRuntime();
        var jobId = NewJobId();
        var info = await runtime.StartAsync(Launch(jobId), CancellationToken.None);
        var pod = _cluster.Api.AddPod(Ns, info.Name!, 0, new JsonObject { ["running"] = new JsonObject() });
        // A Job that is not Indexed gives its pods no completion index.
        _cluster.Api.Update(FakeKubernetesApi.Pods, Ns, pod["metadata"]!["name"]!.GetValue<string>(), p => p["metadata"]!["labels"]!.AsObject().Remove("batch.kubernetes.io/job-completion-index"));
        _cluster.Api.SetLog(Ns, pod["metadata"]!["name"]!.GetValue<string>(), "done\n");

        Assert.Equal("done\n", await ReadLogAsync(runtime, new AttemptRef(Tenant, jobId, 1), new LogOptions(false, null)));
        Assert.Equal("[rank 0] done\n", await ReadLogAsync(runtime, new AttemptRef(Tenant, jobId, 1), new LogOptions(false, null, LogOptions.AllRanks)));
    }

    private static async Task<string> ReadLogAsync(KubernetesJobRuntime runtime, AttemptRef attempt, LogOptions options)
    {
        await using var log = await runtime.OpenLogAsync(attempt, options, CancellationToken.None);
        Assert.NotNull(log);
        Assert.False(log.CanSeek);
        using var reader = new StreamReader(log);
        return await reader.ReadToEndAsync();
    }
}
