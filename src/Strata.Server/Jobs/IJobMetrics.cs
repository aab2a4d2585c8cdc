namespace Strata.Server.Jobs;

/// <summary>
/// The latest tracked metric values of jobs, for the job resource's <c>metrics</c>. Tracking provides it
/// (<c>Tracking/MetricStore</c>); declaring it here keeps Jobs from depending on Tracking, which depends on Jobs.
/// </summary>
public interface IJobMetrics
{
    /// <summary>The latest value of each metric of each of <paramref name="jobIds"/>; a job without metrics has no entry.</summary>
    Task<Dictionary<string, Dictionary<string, double>>> LatestAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken);
}
