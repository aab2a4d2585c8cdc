using System.Text.RegularExpressions;
using Strata.Server.Tests.Dashboards;

namespace Strata.Server.Tests.Deploy;

/// <summary>The repository paths the README, docs/ and deploy/ name exist: a moved or renamed file is caught here, not by a reader.</summary>
public sealed partial class DocumentedPathsTests
{
    /// <summary>Names that look like repository paths and are not.</summary>
    private static readonly string[] NotRepositoryPaths =
    [
        "deploy/strata",   // kubectl's name of the Deployment "strata" (kubectl exec deploy/strata)
        "deploy/secrets",  // made by the operator and ignored by git (deploy/README.md)
    ];

    [Fact]
    public void Every_repository_path_named_in_the_documentation_exists()
    {
        var root = DashboardFiles.RepositoryRoot;
        var documents = new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
            .Concat(Directory.GetFiles(Path.Combine(root, "deploy"), "*.md", SearchOption.AllDirectories));
        var missing = new List<string>();
        foreach (var document in documents)
        {
            var text = File.ReadAllText(document);
            var name = Path.GetRelativePath(root, document);
            foreach (Match match in RepositoryPath().Matches(text))
            {
                var path = match.Groups["path"].Value.TrimEnd('.', '/');
                if (NotRepositoryPaths.Any(other => path == other || path.StartsWith(other + "/", StringComparison.Ordinal))) continue;
                // A build's output (src/Strata.Worker/bin/Debug/...) exists once built, not in a clone.
                if (path.Split('/').Any(part => part is "bin" or "obj")) continue;
                if (!Exists(Path.Combine(root, path))) missing.Add($"{name}: {path}");
            }
            foreach (Match match in RelativeLink().Matches(text))
            {
                var target = match.Groups["target"].Value;
                if (!Exists(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, target)))) missing.Add($"{name}: link ({target})");
            }
        }
        Assert.True(missing.Count == 0, "paths named in the documentation that the repository does not have:" + DashboardFiles.Describe(missing));
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>
    /// A path from the repository's root in backticks or a link: <c>src/...</c>, <c>docs/...</c>, ... Placeholders
    /// (<c>&lt;name&gt;</c>, <c>*</c>, <c>{id}</c>, <c>…</c>) and paths of a running server's data folder are not paths of the repository.
    /// </summary>
    [GeneratedRegex(@"(?<=[`(\s])(?<path>(?:src|tests|docs|deploy|examples|scripts|bench|sdk)/[A-Za-z0-9_.\-/]*)(?=[`)#:\s])")]
    private static partial Regex RepositoryPath();

    /// <summary>A markdown link to a file beside the document (not a URL, not only an anchor).</summary>
    [GeneratedRegex(@"\]\((?!https?:|mailto:|#|/)(?<target>[^)#\s]+)(?:#[^)]*)?\)")]
    private static partial Regex RelativeLink();
}
