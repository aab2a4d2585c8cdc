namespace Strata.Server.Leadership;

public static class LeadershipSetup
{
    /// <summary>Leader election (<c>Leadership</c>), and with it enabled, the queue kept in step with the shared database.</summary>
    public static WebApplicationBuilder AddLeadership(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<LeadershipOptions>().BindConfiguration(LeadershipOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<LeaderElection>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LeaderElection>());
        builder.Services.AddHostedService<QueueSync>();
        return builder;
    }

    /// <summary>Registers <typeparamref name="T"/> (a singleton) as a hosted service that runs on the leader only.</summary>
    public static IServiceCollection AddLeaderService<T>(this IServiceCollection services)
        where T : class, IHostedService =>
        services.AddSingleton(sp => new LeaderService(sp.GetRequiredService<T>()));
}
