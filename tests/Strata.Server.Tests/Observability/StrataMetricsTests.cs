using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Core.Scheduling;
using Strata.Server.Observability;
using Strata.Server.Queue;
using Strata.Server.Storage;

namespace Strata.Server.Tests.Observability;

/// <summary>The instruments of <see cref="StrataMetrics"/>, read with a listener on its own meter factory.</summary>
public sealed class StrataMetricsTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly ServiceProvider _services;
    private readonly JobQueue _queue;
    private readonly StrataMetrics _metrics;
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, string?> Tags)> _measured = [];

    public StrataMetricsTests()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = _services.GetRequiredService<IMeterFactory>();
        _queue = new JobQueue(_time);
        _metrics = new StrataMetrics(meters, _queue, _time);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meters) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var tag in tags) labels[tag.Key] = tag.Value?.ToString();
        lock (_measured) _measured.Add((instrument.Name, value, labels));
    }

    private double Sum(string instrument, params (string Key, string Value)[] tags) =>
        _measured.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.GetValueOrDefault(t.Key) == t.Value)).Sum(m => m.Value);

    private static PendingJob Job(string id, string tenant, DateTimeOffset? notBefore = null) =>
        new(id, tenant, 0, 1, ResourceRequest.FromGb(1, 1, 0), notBefore);

    [Fact]
    public void A_retried_infrastructure_failure_counts_a_failure_and_a_retry_but_no_finished_job()
    {
        _metrics.AttemptRecorded("team-a", StatusReasons.SupervisorLost, retried: true);

        Assert.Equal(1, Sum("ml_platform_job_failures", ("tenant", "team-a"), ("reason", "supervisor_lost")));
        Assert.Equal(1, Sum("ml_platform_job_retries", ("tenant", "team-a")));
        Assert.Equal(0, Sum("ml_platform_jobs_finished", ("tenant", "team-a")));
        Assert.DoesNotContain(_measured, m => m.Instrument == "ml_platform_job_duration");
    }

    [Fact]
    public void A_job_that_ended_is_counted_by_status_and_its_duration_runs_from_its_first_start()
    {
        var ended = new JobEnded("team-a", JobStatus.Failed, Start, Start.AddMinutes(2));
        _metrics.AttemptRecorded("team-a", StatusReasons.OutOfMemory, retried: false, ended);

        Assert.Equal(1, Sum("ml_platform_jobs_finished", ("tenant", "team-a"), ("status", "failed")));
        Assert.Equal(1, Sum("ml_platform_job_failures", ("tenant", "team-a"), ("reason", "out_of_memory")));
        Assert.Equal(0, Sum("ml_platform_job_retries", ("tenant", "team-a")));
        var duration = Assert.Single(_measured, m => m.Instrument == "ml_platform_job_duration");
        Assert.Equal(120, duration.Value);
        Assert.Equal("failed", duration.Tags["status"]);
    }

    [Fact]
    public void A_job_that_never_started_is_counted_but_its_duration_is_not_observed()
    {
        _metrics.JobEnded(new JobEnded("team-a", JobStatus.Cancelled, null, Start));

        Assert.Equal(1, Sum("ml_platform_jobs_finished", ("tenant", "team-a"), ("status", "cancelled")));
        Assert.DoesNotContain(_measured, m => m.Instrument == "ml_platform_job_duration");
    }

    [Fact]
    public void A_failure_reason_outside_the_closed_set_is_counted_as_exited_with_error()
    {
        _metrics.AttemptRecorded("team-a", "something_new", retried: false);

        Assert.Equal(1, Sum("ml_platform_job_failures", ("tenant", "team-a"), ("reason", "exited_with_error")));
        Assert.DoesNotContain(_measured, m => m.Tags.GetValueOrDefault("reason") == "something_new");
    }

    [Fact]
    public void A_tenants_counters_start_at_zero_for_every_status_and_reason()
    {
        _metrics.JobCreated("team-a");
        _metrics.JobCreated("team-a");

        Assert.Equal(2, Sum("ml_platform_jobs_created", ("tenant", "team-a")));
        foreach (var status in new[] { "succeeded", "failed", "cancelled" })
        {
            Assert.Single(_measured, m => m.Instrument == "ml_platform_jobs_finished" && m.Tags["status"] == status && m.Value == 0);
        }
        foreach (var reason in new[] { "exited_with_error", "out_of_memory", "timed_out", "supervisor_lost", "evicted", "start_failed" })
        {
            Assert.Single(_measured, m => m.Instrument == "ml_platform_job_failures" && m.Tags["reason"] == reason && m.Value == 0);
        }
        Assert.Single(_measured, m => m.Instrument == "ml_platform_job_retries" && m.Value == 0);
    }

    [Fact]
    public void Gauges_read_the_queue_per_tenant_and_keep_idle_tenants_at_zero()
    {
        _queue.Enqueue(Job("a1", "team-a"), Start.AddSeconds(-30));
        _queue.Enqueue(Job("a2", "team-a"), Start.AddSeconds(-10));
        _queue.Allocate(new AttemptRef("team-b", "b1", 1), new RunningJob("b1", "team-b", 0, 1, ResourceRequest.FromGb(1, 1, 0)));
        _metrics.JobCreated("team-c");

        _listener.RecordObservableInstruments();

        Assert.Equal(2, Sum("ml_platform_queue_depth", ("tenant", "team-a")));
        Assert.Equal(2, Sum("ml_platform_active_jobs", ("tenant", "team-a"), ("status", "pending")));
        Assert.Equal(0, Sum("ml_platform_active_jobs", ("tenant", "team-a"), ("status", "running")));
        Assert.Equal(30, Sum("ml_platform_oldest_pending_age", ("tenant", "team-a")));
        Assert.Equal(1, Sum("ml_platform_active_jobs", ("tenant", "team-b"), ("status", "running")));
        Assert.Equal(0, Sum("ml_platform_oldest_pending_age", ("tenant", "team-b")));
        // A tenant with jobs but none active now reads 0 rather than vanishing.
        Assert.Single(_measured, m => m.Instrument == "ml_platform_queue_depth" && m.Tags["tenant"] == "team-c" && m.Value == 0);
    }

    [Fact]
    public void The_last_cycle_gauge_reads_the_time_of_the_last_cycle()
    {
        _listener.RecordObservableInstruments();
        Assert.DoesNotContain(_measured, m => m.Instrument == "ml_platform_scheduler_last_cycle_timestamp");

        _time.Advance(TimeSpan.FromSeconds(5));
        _metrics.SchedulerCycled(TimeSpan.FromMilliseconds(2));
        _listener.RecordObservableInstruments();

        Assert.Equal(Start.AddSeconds(5).ToUnixTimeSeconds(), Sum("ml_platform_scheduler_last_cycle_timestamp"));
        Assert.Equal(1, Sum("ml_platform_scheduler_cycles"));
        Assert.Equal(0.002, Sum("ml_platform_scheduler_cycle_duration"), 6);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }
}
