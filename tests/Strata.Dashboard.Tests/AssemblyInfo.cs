// One server and one browser at a time: the tests start real jobs and replicas on a small machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
