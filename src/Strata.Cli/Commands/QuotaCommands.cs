using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata quota</c> (the caller's tenant) and <c>strata quota set &lt;tenant&gt;</c> (admin).</summary>
public static class QuotaCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("quota", "Show your tenant's quota: limit, used and pending per resource");
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ShowAsync(cli.Out, client, cli.Format(parse), token), ct));
        command.Subcommands.Add(SetCommand(cli));
        return command;
    }

    public static async Task<int> ShowAsync(IAnsiConsole console, StrataClient client, OutputFormat format, CancellationToken cancellationToken)
    {
        var quota = await client.QuotaAsync(cancellationToken);
        if (Output.WriteData(console, format, quota))
        {
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("RESOURCE", "LIMIT", "USED", "PENDING");
        foreach (var (resource, usage) in quota.Resources)
        {
            table.AddRow(Output.Esc(resource), Number(usage.Limit), Number(usage.Used), usage.Pending is { } pending ? Number(pending) : "");
        }
        console.Write(table);
        console.MarkupLine($"Over quota: [bold]{Output.Esc(quota.OnQuotaExceeded)}[/] · fair-share weight {Number(quota.FairShareWeight)}"
            + (quota.WaitingForQuota > 0 ? $" · {quota.WaitingForQuota} job(s) waiting for quota" : ""));
        return ExitCodes.Success;
    }

    private static Command SetCommand(CliContext cli)
    {
        var tenant = new Argument<string>("tenant") { Description = "The tenant whose quota to set" };
        var cpu = new Option<double?>("--cpu") { Description = "CPU cores", CustomParser = CliOptions.ParseDouble };
        var memory = new Option<double?>("--memory") { Description = "Memory in GB", CustomParser = CliOptions.ParseDouble };
        var gpus = new Option<int?>("--gpus") { Description = "GPUs", CustomParser = CliOptions.ParseInt };
        var maxRunning = new Option<int?>("--max-running-jobs") { Description = "Jobs running at once", CustomParser = CliOptions.ParseInt };
        var maxPending = new Option<int?>("--max-pending-jobs") { Description = "Jobs waiting at once", CustomParser = CliOptions.ParseInt };
        var maxDeployments = new Option<int?>("--max-deployments") { Description = "Deployments", CustomParser = CliOptions.ParseInt };
        var maxReplicas = new Option<int?>("--max-replicas") { Description = "Model replicas", CustomParser = CliOptions.ParseInt };
        var onExceeded = new Option<string?>("--on-quota-exceeded") { Description = "reject (429) or queue (wait as waiting_for_quota)" };
        onExceeded.AcceptOnlyFromAmong([.. QuotaPolicies.All]);
        var weight = new Option<double?>("--weight") { Description = "Weight in fair sharing (default 1)", CustomParser = CliOptions.ParseDouble };
        var command = new Command("set", "Replace a tenant's quota; what is left out takes the server's default (admin)")
        {
            tenant, cpu, memory, gpus, maxRunning, maxPending, maxDeployments, maxReplicas, onExceeded, weight,
        };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => SetAsync(cli.Out, client, parse.GetValue(tenant)!, new TenantQuotaSpec
        {
            CpuCores = parse.GetValue(cpu),
            MemoryGb = parse.GetValue(memory),
            GpuCount = parse.GetValue(gpus),
            MaxRunningJobs = parse.GetValue(maxRunning),
            MaxPendingJobs = parse.GetValue(maxPending),
            MaxDeployments = parse.GetValue(maxDeployments),
            MaxReplicas = parse.GetValue(maxReplicas),
            OnQuotaExceeded = parse.GetValue(onExceeded),
            FairShareWeight = parse.GetValue(weight),
        }, cli.Format(parse), token), ct, $"tenant \"{parse.GetValue(tenant)}\""));
        return command;
    }

    public static async Task<int> SetAsync(IAnsiConsole console, StrataClient client, string tenantId, TenantQuotaSpec spec, OutputFormat format, CancellationToken cancellationToken)
    {
        var quota = await client.Tenants.SetQuotaAsync(tenantId, spec, cancellationToken);
        if (Output.WriteData(console, format, quota, [tenantId]))
        {
            return ExitCodes.Success;
        }

        console.MarkupLine($"Quota of [bold]{Output.Esc(tenantId)}[/]: {Number(quota.CpuCores)} cores, {Number(quota.MemoryGb)} GB, {quota.GpuCount} GPUs, "
            + $"{quota.MaxRunningJobs} running / {quota.MaxPendingJobs} pending jobs, {quota.MaxDeployments} deployments, {quota.MaxReplicas} replicas; "
            + $"over quota: {Output.Esc(quota.OnQuotaExceeded)}; weight {Number(quota.FairShareWeight)}.");
        return ExitCodes.Success;
    }

    private static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
