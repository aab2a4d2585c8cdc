using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata usage [--from] [--to] [--tenant] [--jobs N]</c>: resource-seconds of jobs and deployments, and their price.</summary>
public static class UsageCommand
{
    public static Command Create(CliContext cli)
    {
        var from = new Option<DateTimeOffset?>("--from") { Description = "Start of the window, e.g. 2026-11-01 (default: the start of this month, UTC)", CustomParser = ParseTime };
        var to = new Option<DateTimeOffset?>("--to") { Description = "End of the window, exclusive (default: now)", CustomParser = ParseTime };
        var tenant = new Option<string?>("--tenant") { Description = "Only this tenant (admins)" };
        var jobs = new Option<int?>("--jobs") { Description = "How many of the costliest jobs, and of the costliest deployments, to list, 0 to 200 (default 20)", CustomParser = CliOptions.ParseInt };
        var command = new Command("usage", "Show reserved and used core, memory and GPU time of jobs and deployments, its price, and right-sizing hints") { from, to, tenant, jobs };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ExecuteAsync(
            cli.Out, client,
            new UsageQuery { From = parse.GetValue(from), To = parse.GetValue(to), Tenant = parse.GetValue(tenant), JobLimit = parse.GetValue(jobs) },
            cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(IAnsiConsole console, StrataClient client, UsageQuery query, OutputFormat format, CancellationToken cancellationToken)
    {
        var report = await client.Usage.GetAsync(query, cancellationToken);
        if (Output.WriteData(console, format, report))
        {
            return ExitCodes.Success;
        }

        var currency = report.Prices.Currency;
        console.MarkupLine($"Usage from [bold]{Output.Time(report.From)}[/] to [bold]{Output.Time(report.To)}[/] (attempts that ended in the window, deployments' replicas while in it; prices per hour: " +
            $"core {Money(report.Prices.CpuCoreHour)}, GB {Money(report.Prices.MemoryGbHour)}, GPU {Money(report.Prices.GpuHour)} {Output.Esc(currency)})");
        if (report.Tenants.Length == 0)
        {
            console.WriteLine("No usage.");
            return ExitCodes.Success;
        }

        // Each tenant in three rows: its jobs, its serving, and both together (what it is charged).
        var tenants = new Table().AddColumns("TENANT", "PART", "RUNS", "CORE-H RESERVED", "CORE-H USED", "GB-H RESERVED", "GB-H USED", "GPU-H", $"COST ({currency})", $"COST IF RIGHT-SIZED ({currency})");
        foreach (var t in report.Tenants)
        {
            tenants.AddRow(Output.Esc(t.TenantId), "jobs", $"{t.Attempts.ToString(CultureInfo.InvariantCulture)} attempts",
                Hours(t.Jobs.Reserved.CoreSeconds), Hours(t.Jobs.Used.CoreSeconds), Hours(t.Jobs.Reserved.MemoryGbSeconds), Hours(t.Jobs.Used.MemoryGbSeconds),
                Hours(t.Jobs.Reserved.GpuSeconds), Money(t.Jobs.Cost.Reserved), Money(t.Jobs.Cost.Used));
            tenants.AddRow("", "serving", $"{Hours(t.Serving.ReplicaSeconds)} replica-h",
                Hours(t.Serving.Reserved.CoreSeconds), Hours(t.Serving.Used.CoreSeconds), Hours(t.Serving.Reserved.MemoryGbSeconds), Hours(t.Serving.Used.MemoryGbSeconds),
                Hours(t.Serving.Reserved.GpuSeconds), Money(t.Serving.Cost.Reserved), Money(t.Serving.Cost.Used));
            tenants.AddRow("", "[bold]total[/]", "",
                Hours(t.Reserved.CoreSeconds), Hours(t.Used.CoreSeconds), Hours(t.Reserved.MemoryGbSeconds), Hours(t.Used.MemoryGbSeconds),
                Hours(t.Reserved.GpuSeconds), $"[bold]{Money(t.Cost.Reserved)}[/]", Money(t.Cost.Used));
        }

        console.Write(tenants);
        if (report.Deployments.Length > 0)
        {
            var deployments = new Table().AddColumns("DEPLOYMENT", "TENANT", "REPLICA-H", "CORE-H RESERVED", "CORE-H USED", "GB-H RESERVED", "GB-H USED", $"COST ({currency})", $"COST IF RIGHT-SIZED ({currency})");
            foreach (var d in report.Deployments)
            {
                deployments.AddRow(Output.Esc(d.Name), Output.Esc(d.TenantId), Hours(d.ReplicaSeconds),
                    Hours(d.Reserved.CoreSeconds), Hours(d.Used.CoreSeconds), Hours(d.Reserved.MemoryGbSeconds), Hours(d.Used.MemoryGbSeconds),
                    Money(d.Cost.Reserved), Money(d.Cost.Used));
            }

            console.Write(deployments);
        }

        if (report.Jobs.Length == 0)
        {
            return ExitCodes.Success;
        }

        var jobs = new Table().AddColumns("JOB", "NAME", "TENANT", "ATTEMPTS", "CORE-H RESERVED", "CORE-H USED", $"COST ({currency})", "HINT");
        foreach (var j in report.Jobs)
        {
            jobs.AddRow(Output.Esc(j.JobId), Output.Esc(j.Name), Output.Esc(j.TenantId), j.Attempts.ToString(CultureInfo.InvariantCulture),
                Hours(j.Reserved.CoreSeconds), Hours(j.Used.CoreSeconds), Money(j.Cost.Reserved),
                j.RightSizing.Length == 0 ? "" : $"[yellow]{Output.Esc(string.Join("; ", j.RightSizing.Select(h => h.Message)))}[/]");
        }

        jobs.Columns[0].NoWrap();
        console.Write(jobs);
        return ExitCodes.Success;
    }

    private static string Hours(double seconds) => (seconds / 3600).ToString("0.####", CultureInfo.InvariantCulture);

    private static string Money(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);

    /// <summary>An ISO 8601 date or date-time; without an offset, UTC.</summary>
    private static DateTimeOffset? ParseTime(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (text.Length > 0 && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }

        var name = (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
        result.AddError($"{name} expects a date or date-time such as 2026-11-01 or 2026-11-01T12:00:00Z, not \"{text}\"");
        return null;
    }
}
