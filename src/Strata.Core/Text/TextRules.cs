using System.Text.Unicode;
using Strata.Core.Jobs;

namespace Strata.Core.Text;

/// <summary>What a text field may hold besides printable characters (docs/limits.md, "Text").</summary>
public enum TextKind
{
    /// <summary>A name, subject or label: no control character at all.</summary>
    Line,
    /// <summary>A description or a command line: tab, line feed and carriage return, no other control character.</summary>
    Prose,
    /// <summary>A value handed on as it is (a hyperparameter, an environment variable): any character but NUL.</summary>
    Value,
}

/// <summary>
/// The one text check of every validator: text is well-formed Unicode (no lone surrogate, so it is
/// valid UTF-8 once encoded), never holds NUL, and holds control characters only where
/// <see cref="TextKind"/> allows them.
/// </summary>
public static class TextRules
{
    /// <summary>Whether <paramref name="bytes"/> are valid UTF-8.</summary>
    public static bool IsValidUtf8(ReadOnlySpan<byte> bytes) => Utf8.IsValid(bytes);

    /// <summary>Why <paramref name="value"/> is not acceptable text of <paramref name="kind"/>, or null when it is.</summary>
    public static string? Problem(ReadOnlySpan<char> value, TextKind kind)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return "must not contain NUL characters";
            }
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
            {
                return "must be valid Unicode text (it has a lone surrogate)";
            }
            if (char.IsControl(c) && !Allowed(c, kind))
            {
                return kind == TextKind.Line
                    ? "must not contain control characters"
                    : "must not contain control characters other than tab and line breaks";
            }
        }
        return null;
    }

    /// <summary>Whether <paramref name="value"/> is acceptable text of <paramref name="kind"/>.</summary>
    public static bool IsValid(ReadOnlySpan<char> value, TextKind kind) => Problem(value, kind) is null;

    /// <summary>Adds an error for <paramref name="field"/> when <paramref name="value"/> is not acceptable; true when it is (or is null).</summary>
    public static bool Check(ValidationErrors errors, string field, string? value, TextKind kind)
    {
        if (value is null || Problem(value, kind) is not { } problem)
        {
            return true;
        }
        errors.Add(field, problem);
        return false;
    }

    private static bool Allowed(char c, TextKind kind) => kind switch
    {
        TextKind.Value => true,
        TextKind.Prose => c is '\t' or '\n' or '\r',
        _ => false,
    };
}
