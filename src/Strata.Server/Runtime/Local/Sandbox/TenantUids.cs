using System.Globalization;

namespace Strata.Server.Runtime.Local.Sandbox;

/// <summary>
/// The user id each tenant's jobs run as when the server is root: one per tenant, never shared, never
/// reused, handed out in order from the configured range and kept in <c>&lt;data&gt;/sandbox-uids</c> (a line
/// <c>tenant uid</c> each, appended and flushed to disk before the id is used), so that an attempt's files
/// keep belonging to its tenant across restarts.
/// </summary>
public sealed class TenantUids
{
    /// <summary>The overflow user, which Linux shows for unmapped ids: never a tenant's.</summary>
    private const int NobodyUid = 65534;

    private readonly string _path;
    private readonly int _first;
    private readonly int _last;
    private readonly Dictionary<string, int> _uids = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public TenantUids(string path, string range)
    {
        _path = path;
        (_first, _last) = ParseRange(range);
        if (!File.Exists(path)) return;
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
            {
                _uids[parts[0]] = uid;
            }
        }
    }

    /// <summary>The tenant's user id, given now if it has none yet.</summary>
    /// <exception cref="Core.Runtime.RuntimeStartException">The range is used up.</exception>
    public int For(string tenantId)
    {
        lock (_lock)
        {
            if (_uids.TryGetValue(tenantId, out var uid)) return uid;
            var next = _uids.Count == 0 ? _first : Math.Max(_first, _uids.Values.Max() + 1);
            if (next == NobodyUid) next++;
            if (next > _last)
            {
                throw new Core.Runtime.RuntimeStartException(
                    $"no user id left for tenant {tenantId}: Runtime:Local:Sandbox:UidRange {_first}-{_last} is used up");
            }
            using (var file = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.Append,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                file.Write(System.Text.Encoding.UTF8.GetBytes($"{tenantId} {next.ToString(CultureInfo.InvariantCulture)}\n"));
                file.Flush(flushToDisk: true);
            }
            _uids[tenantId] = next;
            return next;
        }
    }

    internal static (int First, int Last) ParseRange(string range)
    {
        var parts = range.Split('-');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            && first >= 1000 && first <= last)
        {
            return (first, last);
        }
        throw new InvalidOperationException($"Runtime:Local:Sandbox:UidRange '{range}' must be 'first-last' with 1000 <= first <= last");
    }
}
