using Strata.Server.Retention;

namespace Strata.Server.Idempotency;

/// <summary>Removes expired idempotency keys, with the leader's other sweeps (<see cref="DiskSweeper"/>).</summary>
public sealed class IdempotencyKeySweep(IdempotencyKeys keys, ILogger<IdempotencyKeySweep> logger) : IDiskSweep
{
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var removed = await keys.RemoveExpiredAsync(cancellationToken);
        if (removed > 0) logger.LogInformation("Removed {Count} expired idempotency keys", removed);
    }
}
