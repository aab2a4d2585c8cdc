using Microsoft.Extensions.Options;
using Strata.Core.Jobs;

namespace Strata.Server.Hosting;

/// <summary>
/// The local paths a tenant may name (<c>data_path</c>, <c>model_output_path</c>, a model file): its own area
/// in the data folder and the configured data roots. The job service checks a spec's paths with it, the
/// model registry a registered file, and the local sandbox where a path leads once links are followed.
/// </summary>
public sealed class TenantPaths(DataFolder data, IOptions<StrataOptions> strata)
{
    // The working directory when no data root is configured: right for one machine, narrow it on a shared one.
    private readonly List<string> _dataRoots = strata.Value.DataRoots.Count > 0 ? strata.Value.DataRoots : [Environment.CurrentDirectory];

    public PathPolicy For(string tenantId) => new(data.TenantArtifacts(tenantId), _dataRoots, data.Root);
}
