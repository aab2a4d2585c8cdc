namespace Strata.Core.Runtime;

/// <summary>
/// What a job asks of a machine's GPUs: <paramref name="Devices"/> devices with <paramref name="MilliEach"/>
/// thousandths of each free, of <paramref name="Type"/> (any, when null). A share (<c>compute.gpu_fraction</c>)
/// is one device and less than 1000 thousandths of it.
/// </summary>
public readonly record struct GpuDemand(int Devices, long MilliEach, string? Type)
{
    public bool IsShare => MilliEach < ResourceRequest.MilliPerGpu;

    /// <summary>
    /// The demand of a request (one worker's, or a gang's together): whole devices when its GPUs are whole, else a
    /// share of one device. Null when it asks for no GPU.
    /// </summary>
    public static GpuDemand? Of(ResourceRequest request, string? type) =>
        request.MilliGpus <= 0 ? null
        : request.MilliGpus % ResourceRequest.MilliPerGpu == 0 ? new GpuDemand(request.Gpus, ResourceRequest.MilliPerGpu, type)
        : new GpuDemand(1, request.MilliGpus, type);

    public override string ToString()
    {
        var type = Type is null ? "" : $" of type {Type}";
        return IsShare
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{MilliEach / (double)ResourceRequest.MilliPerGpu:0.###} of a GPU{type}")
            : $"{Devices} GPU(s){type}";
    }
}

/// <summary>
/// A machine's GPUs and how much of each is given out, in thousandths: the one placement rule that both the
/// scheduler (does a job fit now?) and the local runtime (which devices does it get?) use, so that what one
/// admits the other can place. Pure and single-threaded: the caller owns the lock.
/// The rule:
/// - whole devices go only to devices nobody uses, lowest index first;
/// - a share goes onto a device already shared that has room for it, the fullest first (bin packing: the
///   fewest devices are shared, and whole ones stay free for whole-device jobs), else onto an unused device;
/// - both only to devices that match the type (<see cref="GpuDevices.Matches"/>).
/// </summary>
public sealed class GpuPool
{
    private readonly GpuDevice[] _devices;
    private readonly long[] _used;

    public GpuPool(IReadOnlyList<GpuDevice> devices)
    {
        _devices = [.. devices.OrderBy(d => d.Index)];
        _used = new long[_devices.Length];
    }

    private GpuPool(GpuDevice[] devices, long[] used)
    {
        _devices = devices;
        _used = used;
    }

    public IReadOnlyList<GpuDevice> Devices => _devices;

    /// <summary>Thousandths of the device given out (0 when unknown).</summary>
    public long UsedOf(string uuid) => Array.FindIndex(_devices, d => d.Uuid == uuid) is var i and >= 0 ? _used[i] : 0;

    /// <summary>Counts <paramref name="milli"/> of the device as given out (an assignment known from elsewhere); an unknown device is ignored.</summary>
    public void Take(string uuid, long milli)
    {
        var i = Array.FindIndex(_devices, d => d.Uuid == uuid);
        if (i >= 0) _used[i] += milli;
    }

    /// <summary>Gives back what <see cref="Take"/> or <see cref="TryPlace"/> counted.</summary>
    public void Give(string uuid, long milli)
    {
        var i = Array.FindIndex(_devices, d => d.Uuid == uuid);
        if (i >= 0) _used[i] = Math.Max(0, _used[i] - milli);
    }

    /// <summary>The devices <paramref name="demand"/> would get now, without taking them; null when there is no room for it.</summary>
    public IReadOnlyList<GpuDevice>? Choose(GpuDemand demand)
    {
        if (demand.IsShare)
        {
            var best = -1;
            for (var i = 0; i < _devices.Length; i++)
            {
                if (!Matches(i, demand) || _used[i] == 0 || _used[i] + demand.MilliEach > ResourceRequest.MilliPerGpu) continue;
                if (best < 0 || _used[i] > _used[best]) best = i;
            }
            for (var i = 0; best < 0 && i < _devices.Length; i++)
            {
                if (_used[i] == 0 && Matches(i, demand)) best = i;
            }
            return best < 0 ? null : [_devices[best]];
        }
        var free = Enumerable.Range(0, _devices.Length).Where(i => _used[i] == 0 && Matches(i, demand)).Take(demand.Devices).ToList();
        return free.Count < demand.Devices ? null : [.. free.Select(i => _devices[i])];
    }

    /// <summary>Chooses devices for <paramref name="demand"/> and takes them; null (and nothing taken) when there is no room.</summary>
    public IReadOnlyList<GpuDevice>? TryPlace(GpuDemand demand)
    {
        var chosen = Choose(demand);
        foreach (var device in chosen ?? []) Take(device.Uuid, demand.MilliEach);
        return chosen;
    }

    public GpuPool Copy() => new(_devices, (long[])_used.Clone());

    private bool Matches(int i, GpuDemand demand) => demand.Type is null || GpuDevices.Matches(demand.Type, _devices[i].Name);
}

/// <summary>One attempt's hold on one device, in thousandths (1000 for a whole device).</summary>
/// <param name="AttemptName">The attempt's <see cref="AttemptRef.Name"/>.</param>
public readonly record struct GpuHolding(string AttemptName, string Uuid, long Milli);

/// <summary>A runtime's GPUs and who holds what of them now: what the scheduler places pending jobs around.</summary>
public sealed record GpuOccupancy(IReadOnlyList<GpuDevice> Devices, IReadOnlyList<GpuHolding> Holdings);
