using Strata.Server.Leadership;

namespace Strata.Server.Retention;

public static class RetentionSetup
{
    /// <summary>The leader-only <see cref="DiskSweeper"/>, which runs the <see cref="IDiskSweep"/>s that the features register.</summary>
    public static WebApplicationBuilder AddRetention(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DiskSweeper>();
        builder.Services.AddLeaderService<DiskSweeper>();
        return builder;
    }
}
