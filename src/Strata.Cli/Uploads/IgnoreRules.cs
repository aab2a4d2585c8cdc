using System.Text;
using System.Text.RegularExpressions;

namespace Strata.Cli.Uploads;

/// <summary>
/// The patterns of a <c>.gitignore</c> (or <c>.strataignore</c>) file, with git's meaning: blank lines and
/// <c>#</c> comments are skipped; <c>!</c> re-includes; a trailing <c>/</c> matches folders only; a
/// pattern with a <c>/</c> before its end is anchored to the file's folder, one without matches at any
/// depth; <c>*</c>, <c>?</c> and <c>[...]</c> stay within a path segment; <c>**</c> spans segments
/// (<c>**/x</c>, <c>x/**</c>, <c>a/**/b</c>); <c>\</c> escapes. The last matching pattern decides. As in
/// git, a file inside an ignored folder stays ignored whatever a later pattern says (the folder is not
/// walked), which <see cref="CodePacker"/> does by skipping ignored folders.
/// </summary>
public sealed class IgnoreRules
{
    private readonly List<Rule> _rules = [];

    private sealed record Rule(Regex Pattern, bool Negated, bool FoldersOnly);

    /// <param name="lines">The file's lines.</param>
    /// <param name="baseFolder">The folder of the file, relative to the packed root with <c>/</c> separators ("" for the root).</param>
    public IgnoreRules(IEnumerable<string> lines, string baseFolder = "")
    {
        BaseFolder = baseFolder.Trim('/');
        foreach (var raw in lines)
        {
            if (Parse(raw) is { } rule) _rules.Add(rule);
        }
    }

    /// <summary>The folder the patterns are relative to.</summary>
    public string BaseFolder { get; }

    /// <summary>
    /// Whether <paramref name="path"/> (relative to the packed root, <c>/</c>-separated) is ignored by these
    /// rules: true or false when a pattern matches it, null when none does.
    /// </summary>
    public bool? Match(string path, bool isFolder)
    {
        string relative;
        if (BaseFolder.Length == 0) relative = path;
        else if (path.StartsWith(BaseFolder + "/", StringComparison.Ordinal)) relative = path[(BaseFolder.Length + 1)..];
        else return null;
        for (var i = _rules.Count - 1; i >= 0; i--)
        {
            var rule = _rules[i];
            if (rule.FoldersOnly && !isFolder) continue;
            if (rule.Pattern.IsMatch(relative)) return !rule.Negated;
        }
        return null;
    }

    private static Rule? Parse(string raw)
    {
        var line = raw.TrimEnd('\r');
        if (line.Length == 0 || line[0] == '#') return null;
        // Trailing spaces are dropped unless escaped.
        var end = line.Length;
        while (end > 0 && line[end - 1] == ' ' && !(end > 1 && line[end - 2] == '\\')) end--;
        line = line[..end];
        var negated = false;
        if (line.StartsWith('!'))
        {
            negated = true;
            line = line[1..];
        }
        else if (line.StartsWith("\\!", StringComparison.Ordinal) || line.StartsWith("\\#", StringComparison.Ordinal))
        {
            line = line[1..];
        }
        var foldersOnly = line.EndsWith('/') && !line.EndsWith("\\/", StringComparison.Ordinal);
        line = line.TrimEnd('/');
        if (line.Length == 0) return null;
        // A slash at the start or in the middle anchors the pattern to the ignore file's folder.
        var anchored = line.Contains('/', StringComparison.Ordinal);
        line = line.TrimStart('/');
        var regex = new StringBuilder("^");
        if (!anchored) regex.Append("(?:.*/)?");
        regex.Append(Translate(line));
        // A folder's contents are not matched here: as in git, the walk skips an ignored folder whole.
        regex.Append('$');
        return new Rule(new Regex(regex.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline), negated, foldersOnly);
    }

    private static string Translate(string pattern)
    {
        var regex = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*' when i + 1 < pattern.Length && pattern[i + 1] == '*':
                    var atStart = i == 0 || pattern[i - 1] == '/';
                    var atEnd = i + 2 == pattern.Length || pattern[i + 2] == '/';
                    if (atStart && atEnd)
                    {
                        if (i + 2 == pattern.Length)
                        {
                            regex.Append(".*");  // x/** : everything inside
                        }
                        else
                        {
                            regex.Append("(?:.*/)?"); // **/x or a/**/b : zero or more folders
                            i++;
                        }
                        i++;
                    }
                    else
                    {
                        regex.Append("[^/]*"); // ** inside a segment is a plain *
                        i++;
                    }
                    break;
                case '*':
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append("[^/]");
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        regex.Append("\\[");
                        break;
                    }
                    var set = pattern[(i + 1)..close];
                    if (set.StartsWith('!')) set = "^" + set[1..];
                    regex.Append('[').Append(set.Replace("\\", "\\\\", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                case '\\' when i + 1 < pattern.Length:
                    regex.Append(Regex.Escape(pattern[++i].ToString()));
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        return regex.ToString();
    }
}
