using Strata.Core.Jobs;

namespace Strata.Core.Tests;

public sealed class PathPolicyTests
{
    private const string Area = "/srv/strata/artifacts/team-a";
    private readonly PathPolicy _paths = new(Area, ["/data-roots", "/mnt/shared/"]);

    [Theory]
    [InlineData("models/v1", Area + "/models/v1")]
    [InlineData("out", Area + "/out")]
    [InlineData("./out", Area + "/out")]
    [InlineData(".", Area)]
    [InlineData("a/./b", Area + "/a/b")]
    [InlineData("..hidden/x", Area + "/..hidden/x")]
    public void A_relative_path_is_taken_inside_the_tenants_area(string path, string expected)
    {
        Assert.True(_paths.TryResolve(path, out var resolved, out var error), error);
        Assert.Equal(expected, resolved);
        Assert.Null(error);
    }

    [Theory]
    [InlineData(Area)]
    [InlineData(Area + "/jobs/1/output")]
    [InlineData("/data-roots")]
    [InlineData("/data-roots/imagenet/train")]
    [InlineData("/mnt/shared")]
    [InlineData("/mnt/shared/x")]
    public void An_absolute_path_inside_the_tenants_area_or_a_data_root_is_allowed(string path)
    {
        Assert.True(_paths.TryResolve(path, out var resolved, out _));
        Assert.Equal(path, resolved);
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("/")]
    [InlineData("/srv/strata/artifacts/team-b/x")] // another tenant
    [InlineData("/srv/strata/artifacts/team-ab")] // a tenant whose id starts with this one's
    [InlineData("/srv/strata/artifacts")]
    [InlineData("/data-roots-evil")]
    [InlineData("/data-roots-evil/x")]
    [InlineData("/data-rootsx/x")]
    [InlineData("/mnt/shared-other/x")]
    [InlineData("/mnt")]
    public void An_absolute_path_outside_them_is_refused(string path)
    {
        Assert.False(_paths.TryResolve(path, out _, out var error));
        Assert.Contains("inside the tenant's artifact area or a configured data root", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../team-b")]
    [InlineData("a/../../team-b")]
    [InlineData("a/..")]
    [InlineData(Area + "/../team-b")]
    [InlineData("/data-roots/../etc/passwd")]
    [InlineData("/data-roots/x/..")]
    [InlineData("s3://bucket/../other-bucket")]
    [InlineData("s3://bucket/a/..")]
    [InlineData("https://example.com/a/../b")]
    [InlineData("gs://..")]
    public void Dot_dot_is_refused_in_paths_and_inside_uris(string path)
    {
        Assert.False(_paths.TryResolve(path, out _, out var error));
        Assert.Equal("must not contain '..' segments", error);
    }

    [Theory]
    [InlineData("s3://bucket/data")]
    [InlineData("gs://bucket/data")]
    [InlineData("gcs://bucket/data")]
    [InlineData("az://container/data")]
    [InlineData("abfs://fs@account.dfs.core.windows.net/data")]
    [InlineData("abfss://fs@account.dfs.core.windows.net/data")]
    [InlineData("hdfs://namenode:8020/data")]
    [InlineData("http://example.com/data.csv")]
    [InlineData("https://example.com/data.csv")]
    [InlineData("S3://bucket/data")]
    public void An_object_store_uri_passes_through_untouched(string uri)
    {
        Assert.True(_paths.TryResolve(uri, out var resolved, out _));
        Assert.Equal(uri, resolved);
    }

    [Theory]
    [InlineData("file:///etc/passwd", "file")]
    [InlineData("ftp://example.com/x", "ftp")]
    [InlineData("jar://x", "jar")]
    [InlineData("gopher://x", "gopher")]
    [InlineData("FILE:///etc/passwd", "file")]
    public void Another_scheme_is_refused(string uri, string scheme)
    {
        Assert.False(_paths.TryResolve(uri, out _, out var error));
        Assert.StartsWith($"scheme '{scheme}' is not supported", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("out\0put")]
    [InlineData("/data-roots/x\0")]
    [InlineData("s3://bucket/x\0y")]
    [InlineData("out\\put")]
    [InlineData("..\\team-b")]
    [InlineData("s3://bucket\\x")]
    public void Nul_and_backslash_are_refused(string path)
    {
        Assert.False(_paths.TryResolve(path, out _, out var error));
        Assert.Equal("must not contain NUL or backslash characters", error);
    }

    [Fact]
    public void An_empty_or_overlong_path_is_refused()
    {
        Assert.False(_paths.TryResolve("", out _, out var empty));
        Assert.False(_paths.TryResolve("a" + new string('b', JobLimits.PathLength), out _, out var overlong));
        Assert.Equal(empty, overlong);
        Assert.True(_paths.TryResolve(new string('b', JobLimits.PathLength), out _, out _));
    }

    [Fact]
    public void The_tenant_area_is_kept_as_a_full_path()
    {
        Assert.Equal(Area, new PathPolicy(Area + "/./", []).TenantArea.TrimEnd('/'));
    }

    [Fact]
    public void Without_data_roots_only_the_tenants_area_is_allowed()
    {
        var paths = new PathPolicy(Area, []);

        Assert.True(paths.TryResolve(Area + "/x", out _, out _));
        Assert.False(paths.TryResolve("/data-roots/x", out _, out _));
    }

    [Fact]
    public void A_data_root_of_slash_allows_every_absolute_path_but_still_no_dot_dot()
    {
        var paths = new PathPolicy(Area, ["/"]);

        Assert.True(paths.TryResolve("/anything/at/all", out _, out _));
        Assert.False(paths.TryResolve("/anything/../etc", out _, out _));
    }
}
