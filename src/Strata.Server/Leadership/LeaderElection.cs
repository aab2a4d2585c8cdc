using Microsoft.Extensions.Options;
using Strata.Server.Storage;

namespace Strata.Server.Leadership;

/// <summary>
/// Keeps this replica's claim on the <c>scheduler</c> lease and runs the leader-only services (scheduler,
/// reconciler, tenant provisioning) while it holds it. A replica that loses the lease stops the whole
/// process rather than try to wind those services down in place: its orchestrator starts it again as a
/// follower with clean memory (Kubernetes controllers do the same). With leadership disabled, this server
/// is the leader from the start.
/// </summary>
public sealed class LeaderElection(
    Store store,
    IEnumerable<LeaderService> services,
    IOptions<LeadershipOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<LeaderElection> logger) : BackgroundService
{
    public const string LeaseName = "scheduler";

    private readonly List<IHostedService> _started = [];
    private readonly DatabaseLease _lease = new(store, time, LeaseName,
        options.Value.Identity ?? $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..6]}",
        TimeSpan.FromSeconds(options.Value.LeaseSeconds));

    /// <summary>True while this replica runs the leader-only services.</summary>
    public bool IsLeader { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            await StartServicesAsync(stoppingToken);
            return;
        }
        var renew = TimeSpan.FromSeconds(options.Value.RenewSeconds);
        var heldUntil = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            bool held;
            try
            {
                held = await _lease.TryAcquireAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not renew the leader lease");
                held = IsLeader && time.GetUtcNow() < heldUntil; // still ours until it would expire
            }
            if (held)
            {
                heldUntil = time.GetUtcNow() + TimeSpan.FromSeconds(options.Value.LeaseSeconds);
                if (!IsLeader)
                {
                    logger.LogInformation("This replica ({Holder}) is the leader: starting the scheduler and reconciler", _lease.Holder);
                    await StartServicesAsync(stoppingToken);
                }
            }
            else if (IsLeader)
            {
                logger.LogCritical("This replica lost the leader lease; stopping so that it restarts as a follower");
                lifetime.StopApplication();
                return;
            }
            await Task.Delay(renew, time, stoppingToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var service in Enumerable.Reverse(_started))
        {
            await service.StopAsync(cancellationToken);
        }
        if (IsLeader && options.Value.Enabled)
        {
            try
            {
                await _lease.ReleaseAsync(cancellationToken);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Could not release the leader lease; it expires on its own");
            }
        }
    }

    private async Task StartServicesAsync(CancellationToken cancellationToken)
    {
        IsLeader = true;
        foreach (var service in services)
        {
            await service.Service.StartAsync(cancellationToken);
            _started.Add(service.Service);
        }
    }
}

/// <summary>A hosted service that runs on the leader only (registered with <see cref="LeadershipSetup.AddLeaderService{T}"/>).</summary>
public sealed record LeaderService(IHostedService Service);
