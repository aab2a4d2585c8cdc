using System.Globalization;
using System.CommandLine;
using Spectre.Console;
using Strata.Client;
using Strata.Contracts;

namespace Strata.Cli.Commands;

/// <summary><c>strata tenants create|list|get|delete</c> (admin).</summary>
public static class TenantCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("tenants", "Manage tenants (admin)");
        command.Subcommands.Add(CreateCommand(cli));
        command.Subcommands.Add(ListCommand(cli));
        command.Subcommands.Add(GetCommand(cli));
        command.Subcommands.Add(DeleteCommand(cli));
        return command;
    }

    private static Command CreateCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The tenant's id, a DNS-1123 label of at most 40 characters" };
        var name = new Option<string?>("--name") { Description = "A display name (default: the id)" };
        var costCenter = new Option<string?>("--cost-center") { Description = "A cost center for usage reports" };
        var command = new Command("create", "Create a tenant") { id, name, costCenter };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => CreateAsync(
            cli.Out, client,
            new CreateTenantRequest { Id = parse.GetValue(id), Name = parse.GetValue(name), CostCenter = parse.GetValue(costCenter) },
            cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> CreateAsync(IAnsiConsole console, StrataClient client, CreateTenantRequest request, OutputFormat format, CancellationToken cancellationToken)
    {
        var tenant = await client.Tenants.CreateAsync(request, cancellationToken);
        if (!Output.WriteData(console, format, tenant, [tenant.Id]))
        {
            console.MarkupLine($"Created tenant [bold]{Output.Esc(tenant.Id)}[/].");
            // The role the README's quickstart uses: a member submits and deploys; an owner also manages the tenant's tokens.
            console.MarkupLine($"[grey]Issue a token for it with: strata tokens create {Output.Esc(tenant.Id)} --role member (or owner, to manage its tokens too)[/]");
        }

        return ExitCodes.Success;
    }

    private static Command ListCommand(CliContext cli)
    {
        var command = new Command("list", "List tenants");
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => ListAsync(cli.Out, client, cli.Format(parse), token), ct));
        return command;
    }

    public static async Task<int> ListAsync(IAnsiConsole console, StrataClient client, OutputFormat format, CancellationToken cancellationToken)
    {
        var tenants = await client.Tenants.ListAsync(cancellationToken);
        if (Output.WriteData(console, format, tenants, tenants.Select(t => t.Id)))
        {
            return ExitCodes.Success;
        }

        var table = new Table().AddColumns("ID", "NAME", "COST CENTER", "CREATED");
        foreach (var tenant in tenants)
        {
            table.AddRow(Output.Esc(tenant.Id), Output.Esc(tenant.Name), Output.Esc(tenant.CostCenter), Output.Time(tenant.CreatedAt));
        }

        console.Write(table);
        return ExitCodes.Success;
    }

    private static Command GetCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The tenant's id" };
        var command = new Command("get", "Show a tenant") { id };
        command.SetAction((parse, ct) => cli.RunAsync(parse, async (client, token) =>
        {
            var tenant = await client.Tenants.GetAsync(parse.GetValue(id)!, token);
            if (!Output.WriteData(cli.Out, cli.Format(parse), tenant, [tenant.Id]))
            {
                var grid = new Grid().AddColumn().AddColumn();
                grid.AddRow("[bold]ID[/]", Output.Esc(tenant.Id));
                grid.AddRow("[bold]Name[/]", Output.Esc(tenant.Name));
                grid.AddRow("[bold]Cost center[/]", Output.Esc(tenant.CostCenter));
                grid.AddRow("[bold]Created[/]", Output.Time(tenant.CreatedAt));
                if (tenant.Status != TenantStatuses.Active) grid.AddRow("[bold]Status[/]", Output.Esc($"{tenant.Status} since {Output.Time(tenant.DeletingSince)}"));
                if (tenant.Quota is { } q)
                {
                    string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
                    grid.AddRow("[bold]Quota[/]", Output.Esc($"{N(q.CpuCores)} cores, {N(q.MemoryGb)} GB, {q.GpuCount} GPUs; {q.MaxRunningJobs} running and {q.MaxPendingJobs} pending jobs; "
                        + $"{q.MaxDeployments} deployments, {q.MaxReplicas} replicas; over quota: {q.OnQuotaExceeded}; weight {N(q.FairShareWeight)}"));
                }
                cli.Out.Write(grid);
            }

            return ExitCodes.Success;
        }, ct, $"tenant \"{parse.GetValue(id)}\""));
        return command;
    }

    private static Command DeleteCommand(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The tenant's id" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation" };
        var command = new Command("delete", "Delete a tenant and everything it owns (its jobs are cancelled, its deployments stopped); waits until it is gone") { id, yes };
        command.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) =>
            DeleteAsync(cli.Out, cli.Error, client, parse.GetValue(id)!, parse.GetValue(yes), cli.Format(parse), token), ct, $"tenant \"{parse.GetValue(id)}\""));
        return command;
    }

    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(500);

    /// <summary>Deletes the tenant and waits until it is gone.</summary>
    /// <exception cref="UsageException">Not confirmed: no <c>--yes</c> and no terminal to ask on, or the user said no.</exception>
    /// <param name="error">Where the messages go when the output is for scripts (-o json, yaml, name).</param>
    public static async Task<int> DeleteAsync(
        IAnsiConsole console, IAnsiConsole error, StrataClient client, string id, bool yes, OutputFormat format, CancellationToken cancellationToken)
    {
        if (!yes)
        {
            if (!console.Profile.Capabilities.Interactive)
            {
                throw new UsageException($"deleting tenant \"{id}\" cancels its jobs; pass --yes to confirm");
            }

            if (!await new ConfirmationPrompt($"Delete tenant [bold]{Output.Esc(id)}[/] and cancel its jobs?") { DefaultValue = false }.ShowAsync(console, cancellationToken))
            {
                throw new UsageException("not deleted");
            }
        }

        await client.Tenants.DeleteAsync(id, cancellationToken);
        var messages = format.ForPeople() ? console : error;
        messages.MarkupLine($"Deleting tenant [bold]{Output.Esc(id)}[/]: stopping its deployments and jobs, removing what it owns...");
        // The server deletes in the background and shows the tenant as deleting until it is gone.
        while (true)
        {
            try
            {
                await client.Tenants.GetAsync(id, cancellationToken);
            }
            catch (NotFoundException)
            {
                break;
            }
            await Task.Delay(PollEvery, cancellationToken);
        }
        messages.MarkupLine($"Deleted tenant [bold]{Output.Esc(id)}[/].");
        if (format == OutputFormat.Name) Output.WriteRaw(console, id);
        return ExitCodes.Success;
    }
}

/// <summary>
/// <c>strata tokens create &lt;tenant&gt;</c>, and <c>strata tokens create --role metrics-reader</c> for a token of no
/// tenant (Prometheus'): prints only the token, so <c>$(strata tokens create t)</c> works.
/// </summary>
public static class TokenCommands
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("tokens", "Issue tokens");
        var tenant = new Argument<string?>("tenant") { Description = "The tenant the token is for (none for metrics-reader)", Arity = ArgumentArity.ZeroOrOne };
        var role = new Option<string>("--role")
        {
            Description = "owner, member or viewer of the tenant; or metrics-reader (no tenant: reads Prometheus' scrape targets and nothing else)",
            DefaultValueFactory = _ => Roles.Member,
        };
        role.AcceptOnlyFromAmong([.. Roles.TenantRoles, .. Roles.PlatformRoles]);
        var days = new Option<int?>("--expires-in-days") { Description = "Lifetime in days, 1 to 365 (default 30)", CustomParser = CliOptions.ParseInt };
        var subject = new Option<string?>("--subject") { Description = "Who or what the token is for" };
        var create = new Command("create", "Issue a token for a tenant, or a metrics-reader token (prints only the token)") { tenant, role, days, subject };
        create.Validators.Add(r =>
        {
            // The raw value: an unknown role is reported by AcceptOnlyFromAmong, and reading it typed would throw.
            var chosen = r.GetResult(role) is { Tokens: [var given, ..] } ? given.Value : Roles.Member;
            var named = r.GetValue(tenant);
            if (Roles.PlatformRoles.Contains(chosen) && named is not null)
            {
                r.AddError($"a {chosen} token belongs to no tenant; leave out \"{named}\"");
            }
            else if (!Roles.PlatformRoles.Contains(chosen) && named is null)
            {
                r.AddError($"name the tenant the {chosen} token is for: strata tokens create <tenant> --role {chosen}");
            }
        });
        create.SetAction((parse, ct) => cli.RunAsync(parse, (client, token) => CreateAsync(
            cli.Out, client, parse.GetValue(tenant),
            new CreateTokenRequest { Role = parse.GetValue(role), ExpiresInDays = parse.GetValue(days), Subject = parse.GetValue(subject) },
            cli.Format(parse), token), ct, parse.GetValue(tenant) is { } id ? $"tenant \"{id}\"" : null));
        command.Subcommands.Add(create);
        return command;
    }

    /// <summary>Issues the token: of <paramref name="tenantId"/>, or of no tenant when it is null (a platform role).</summary>
    public static async Task<int> CreateAsync(IAnsiConsole console, StrataClient client, string? tenantId, CreateTokenRequest request, OutputFormat format, CancellationToken cancellationToken)
    {
        var response = tenantId is null
            ? await client.Tokens.CreatePlatformAsync(request, cancellationToken)
            : await client.Tokens.CreateAsync(tenantId, request, cancellationToken);
        // The token is what identifies it to its holder: -o name prints it as the table does.
        if (!Output.WriteData(console, format, response, [response.Token]))
        {
            Output.WriteRaw(console, response.Token);
        }

        return ExitCodes.Success;
    }
}
