using Microsoft.Extensions.Options;
using Strata.Contracts;
using Strata.Core.Jobs;
using Strata.Core.Runtime;
using Strata.Core.Training;
using Strata.Server.Auth;
using Strata.Server.Hosting;
using Strata.Server.Runtime;
using Strata.Server.Storage;

namespace Strata.Server.Attempts;

/// <summary>Turns a stored job into what a runtime needs to start one of its attempts: the job contract.</summary>
public sealed class LaunchBuilder(
    DataFolder data,
    TokenIssuer tokens,
    TenantDirectory tenants,
    PlatformUrl platformUrl,
    IOptions<AttemptOptions> options,
    WorkerBinary worker)
{
    /// <summary>The launch of attempt <paramref name="attemptNumber"/> of <paramref name="job"/>, with its job token.</summary>
    /// <exception cref="RuntimeStartException">The job's tenant is gone or being deleted.</exception>
    public async Task<JobLaunch> BuildAsync(JobRecord job, int attemptNumber, CancellationToken cancellationToken)
    {
        // The token names the tenant's incarnation, so that it dies with the tenant, as the tenant's own tokens do.
        var tenant = await tenants.FindAsync(job.TenantId, cancellationToken);
        if (tenant is not { Deleting: false })
        {
            throw new RuntimeStartException($"its tenant '{job.TenantId}' is being deleted");
        }
        var spec = job.ReadSpec();
        var attempt = new AttemptRef(job.TenantId, job.Id, attemptNumber);
        var checkpoints = data.JobCheckpoints(job.Id);
        Directory.CreateDirectory(checkpoints);
        if (spec.ModelOutputPath is { } output && Path.IsPathRooted(output))
        {
            Directory.CreateDirectory(output);
        }
        // The expiry is only an upper bound: the token is refused as soon as this attempt ends (LiveAttempts).
        var lifetime = TimeSpan.FromSeconds(spec.TimeoutSeconds ?? 0) + TimeSpan.FromDays(options.Value.JobTokenDays);
        var (token, _) = tokens.Issue($"job:{job.Id}", Roles.Job, tenant.Incarnation, lifetime, attempt);
        var environment = JobEnvironment.Build(spec, job.Id, attemptNumber, platformUrl.Value, token, checkpoints);
        return new JobLaunch
        {
            Attempt = attempt,
            Entrypoint = spec.Model is null ? spec.Entrypoint ?? JobDefaults.DefaultEntrypoint : TrainerCommand.Build(worker.Jit.Argv, spec),
            ToolPaths = spec.Model is null ? [] : worker.JitToolPaths(),
            DockerImage = spec.DockerImage,
            Environment = environment,
            Resources = job.WorkerRequest(),
            GpuType = spec.Compute?.GpuType,
            NumWorkers = job.Workers,
            TimeoutSeconds = spec.TimeoutSeconds,
            Code = CodeOf(spec),
            DataArtifactId = ArtifactUri.TryParse(spec.DataPath, out var dataArtifact) ? dataArtifact : null,
            // A job stored before these fields existed has none in its spec: it gets today's defaults.
            MaxProcesses = spec.Compute?.MaxProcesses ?? JobDefaults.DefaultMaxProcesses,
            DiskBytes = (long)((spec.Compute?.DiskGb ?? JobDefaults.DefaultDiskGb) * ResourceRequest.BytesPerGb),
            MaxLogBytes = options.Value.MaxLogBytes,
            PythonEnvironment = spec.Environment,
        };
    }

    private static CodeSource? CodeOf(TrainingJobSpec spec)
    {
        if (ArtifactUri.TryParse(spec.CodeArtifact, out var artifact)) return new CodeSource { ArtifactId = artifact };
        if (spec.CodeRepo is { } repo) return new CodeSource { Repo = repo, Commit = spec.CodeCommit };
        return null;
    }
}
