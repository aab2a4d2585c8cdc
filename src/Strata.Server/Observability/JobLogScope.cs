using System.Collections;
using System.Globalization;

namespace Strata.Server.Observability;

/// <summary>
/// The log scope of work on one job: <c>TenantId</c>, <c>JobId</c> and, when there is one, <c>Attempt</c>.
/// The JSON console writes them as properties of each line's scope; the text console as
/// <c>TenantId:team-a JobId:… Attempt:1</c>. Cheaper than a dictionary, and never a type name in the log.
/// </summary>
public sealed class JobLogScope(string tenantId, string jobId, int? attempt = null) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => attempt is null ? 2 : 3;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("TenantId", tenantId),
        1 => new("JobId", jobId),
        2 when attempt is not null => new("Attempt", attempt.Value),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => attempt is null
        ? $"TenantId:{tenantId} JobId:{jobId}"
        : string.Create(CultureInfo.InvariantCulture, $"TenantId:{tenantId} JobId:{jobId} Attempt:{attempt}");
}
