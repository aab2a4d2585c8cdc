using System.Globalization;

namespace Strata.Core.Jobs;

/// <summary>Where one worker of a distributed job sits in its gang, in torchrun's terms.</summary>
/// <param name="WorldSize">Workers in the gang.</param>
/// <param name="Rank">This worker's rank, 0 to <paramref name="WorldSize"/> - 1.</param>
/// <param name="LocalRank">Its rank among the workers on its machine.</param>
/// <param name="LocalWorldSize">Workers on its machine.</param>
/// <param name="NodeRank">Its machine's rank among the gang's machines.</param>
public readonly record struct GangPlace(int WorldSize, int Rank, int LocalRank, int LocalWorldSize, int NodeRank);

/// <summary>
/// The variables of a distributed job's worker (DESIGN.md, "The job's contract"), named as torchrun names them
/// so that <c>torch.distributed.init_process_group("env://")</c> works unchanged. Each runtime adds them, since
/// only it knows where the ranks run: all on one machine (local), or one per pod (Kubernetes).
/// </summary>
public static class GangEnvironment
{
    public const string WorldSize = "WORLD_SIZE";
    public const string Rank = "RANK";
    public const string LocalRank = "LOCAL_RANK";
    public const string LocalWorldSize = "LOCAL_WORLD_SIZE";
    public const string NodeRank = "NODE_RANK";
    public const string MasterAddress = "MASTER_ADDR";
    public const string MasterPort = "MASTER_PORT";

    /// <summary>Every name this sets; a spec may not set them itself.</summary>
    public static readonly IReadOnlyList<string> Names = [WorldSize, Rank, LocalRank, LocalWorldSize, NodeRank, MasterAddress, MasterPort];

    /// <summary>Adds one worker's variables to <paramref name="environment"/>.</summary>
    public static void Add(IDictionary<string, string> environment, GangPlace place, string masterAddress, int masterPort)
    {
        environment[WorldSize] = Text(place.WorldSize);
        environment[Rank] = Text(place.Rank);
        environment[LocalRank] = Text(place.LocalRank);
        environment[LocalWorldSize] = Text(place.LocalWorldSize);
        environment[NodeRank] = Text(place.NodeRank);
        environment[MasterAddress] = masterAddress;
        environment[MasterPort] = Text(masterPort);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
