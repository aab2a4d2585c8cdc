namespace Strata.Core.Runtime;

/// <summary>Reads the last Python exception from the tail of a job's output; pure.</summary>
public static class Tracebacks
{
    /// <summary>How much of the end of <c>output.log</c> a runtime reads to find the last traceback.</summary>
    public const int TailBytes = 16 * 1024;

    /// <summary>The longest exception line kept (the rest is cut, with an ellipsis).</summary>
    public const int MaxLineLength = 500;

    /// <summary>Exceptions that are errors in the job's code: raised again by a retry of the same code and data.</summary>
    public static readonly IReadOnlySet<string> CodeErrors = new HashSet<string>(StringComparer.Ordinal)
    {
        "ValueError", "TypeError", "KeyError", "AttributeError", "IndexError", "ZeroDivisionError",
        "AssertionError", "NameError", "ImportError", "ModuleNotFoundError", "SyntaxError",
    };

    /// <summary>
    /// The exception line that ends the last <c>Traceback (most recent call last):</c> in <paramref name="tail"/>
    /// (<c>ValueError: bad row</c>, or <c>KeyError</c> alone); null when there is none.
    /// </summary>
    public static string? LastException(string? tail)
    {
        if (string.IsNullOrEmpty(tail)) return null;
        var lines = tail.Split('\n');
        var start = Array.FindLastIndex(lines, l => l.TrimEnd('\r').StartsWith("Traceback (most recent call last):", StringComparison.Ordinal));
        if (start < 0) return null;
        // The frames are indented; the first line after them at the margin that looks like an exception names it.
        // Other lines at the margin are skipped: the job's standard output, written through another pipe, may
        // land anywhere in the traceback.
        for (var i = start + 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || char.IsWhiteSpace(line[0]) || !LooksLikeException(line)) continue;
            return line.Length <= MaxLineLength ? line : string.Concat(line.AsSpan(0, MaxLineLength), "…");
        }
        return null;
    }

    /// <summary>The prefix of a line a job prints to say why it failed, in its own words (the built-in trainer does).</summary>
    public const string ErrorLinePrefix = "STRATA_ERROR ";

    /// <summary>
    /// The message of the last <c>STRATA_ERROR &lt;message&gt;</c> line in <paramref name="tail"/> (text before the prefix
    /// is allowed when it ends in a space, as for metric lines: a logging prefix); null when there is none.
    /// </summary>
    public static string? LastReportedError(string? tail)
    {
        if (string.IsNullOrEmpty(tail)) return null;
        var lines = tail.Split('\n');
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var line = lines[i].TrimEnd('\r');
            var at = line.IndexOf(ErrorLinePrefix, StringComparison.Ordinal);
            if (at < 0 || (at > 0 && line[at - 1] != ' ')) continue;
            var message = line[(at + ErrorLinePrefix.Length)..].Trim();
            if (message.Length == 0) continue;
            return message.Length <= MaxLineLength ? message : string.Concat(message.AsSpan(0, MaxLineLength), "…");
        }
        return null;
    }

    /// <summary>True when <paramref name="exceptionLine"/> names one of the <see cref="CodeErrors"/> (qualified names too: <c>builtins.ValueError</c>).</summary>
    public static bool IsCodeError(string? exceptionLine)
    {
        var name = ExceptionName(exceptionLine);
        if (name is null) return false;
        var dot = name.LastIndexOf('.');
        return CodeErrors.Contains(dot < 0 ? name : name[(dot + 1)..]);
    }

    /// <summary>
    /// An exception line: a (dotted) name in CamelCase, followed by <c>: message</c>, or alone when it ends as
    /// exception names do (<c>KeyError</c>, <c>StopIteration</c>, <c>KeyboardInterrupt</c>).
    /// </summary>
    private static bool LooksLikeException(string line)
    {
        var name = ExceptionName(line);
        if (name is null) return false;
        var last = name[(name.LastIndexOf('.') + 1)..];
        if (last.Length == 0 || !char.IsUpper(last[0])) return false;
        return line.Length > name.Length && line[name.Length] == ':'
            || last.EndsWith("Error", StringComparison.Ordinal) || last.EndsWith("Exception", StringComparison.Ordinal)
            || last.EndsWith("Exit", StringComparison.Ordinal) || last.EndsWith("Interrupt", StringComparison.Ordinal)
            || last.EndsWith("Iteration", StringComparison.Ordinal) || last.EndsWith("Warning", StringComparison.Ordinal);
    }

    /// <summary>The exception's (possibly dotted) name at the start of an exception line; null when the line does not start with one.</summary>
    private static string? ExceptionName(string? line)
    {
        if (string.IsNullOrEmpty(line)) return null;
        var colon = line.IndexOf(':');
        var name = colon < 0 ? line.Trim() : line[..colon];
        if (name.Length == 0 || !(char.IsLetter(name[0]) || name[0] == '_')) return null;
        foreach (var c in name)
        {
            if (!(char.IsLetterOrDigit(c) || c is '_' or '.')) return null;
        }
        return name;
    }
}
