using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Strata.Contracts;
using Strata.Core.Runtime;
using Strata.Server.Attempts;
using Strata.Server.Storage;

namespace Strata.Server.Models;

/// <summary>
/// Registers what a built-in trainer wrote (model.zip, schema.json, metrics.json in the job's output
/// folder) as the next version of the model named after the job, when its attempt succeeds.
/// <para>
/// The server does this, not the trainer calling the API from inside the job: it happens exactly once
/// whatever the job's network or token (the registration is keyed by the job, so observing the success
/// again after a crash finds the same version), it is recorded before the job is marked succeeded (a
/// succeeded built-in job always has its version), and the job's token keeps its narrow scope.
/// </para>
/// </summary>
public sealed class TrainerOutputs(Store store, ModelRegistry registry, Artifacts.ArtifactStore artifacts, ILogger<TrainerOutputs> logger) : IAttemptOutputs
{
    /// <summary>Null when the attempt is not the live attempt of a built-in trainer job (nothing to register).</summary>
    public async Task<OutputRegistration?> RegisterAsync(AttemptRef attempt, CancellationToken cancellationToken)
    {
        await using var db = store.CreateContext();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == attempt.JobId, cancellationToken);
        if (job is not { Status: JobStatus.Running } || job.AttemptCount != attempt.Number) return null;
        var spec = job.ReadSpec();
        if (spec.Model is null || spec.ModelOutputPath is null) return null;

        try
        {
            var folder = spec.ModelOutputPath;
            var report = ReadJson<TrainingReport>(Path.Combine(folder, "metrics.json"));
            var schema = File.ReadAllText(Path.Combine(folder, "schema.json"));
            JsonDocument.Parse(schema).Dispose();
            await using var file = new FileStream(Path.Combine(folder, "model.zip"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            var lineage = await ModelsApi.LineageAsync(job, artifacts, cancellationToken, report.DataSha256);
            var version = await registry.RegisterAsync(job.TenantId, job.Name, new NewVersion(
                file, ModelFormats.MlNet, report.Metrics, schema, lineage, ModelRegistry.SourceTrainer,
                $"{report.Model} {report.Task} model of '{report.Label}', trained by job {job.Id}"), cancellationToken);
            return new OutputRegistration($"{version.ModelName}@{version.Version}", null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ModelFileException)
        {
            logger.LogWarning(e, "The output of built-in trainer job {Job} could not be registered", job.Id);
            return new OutputRegistration(null, $"its model could not be registered: {e.Message}");
        }
    }

    private static T ReadJson<T>(string path) =>
        JsonSerializer.Deserialize<T>(File.ReadAllText(path), StrataJson.Options) ?? throw new JsonException($"{path} holds null");
}
