using Strata.Core.Jobs;
using Strata.Core.Text;

namespace Strata.Core.Tests;

public sealed class TextRulesTests
{
    [Theory]
    [InlineData("Team A", TextKind.Line)]
    [InlineData("équipe 中 😀", TextKind.Line)]
    [InlineData("two\nlines\twith a tab\r\n", TextKind.Prose)]
    [InlineData("any\u001bthing\u007f", TextKind.Value)]
    [InlineData("", TextKind.Line)]
    public void Accepts_text_its_kind_allows(string text, TextKind kind)
    {
        Assert.Null(TextRules.Problem(text, kind));
    }

    [Theory]
    [InlineData("a\0b", TextKind.Value)]
    [InlineData("a\0b", TextKind.Prose)]
    [InlineData("a\0b", TextKind.Line)]
    [InlineData("\\ud800", TextKind.Value)]
    [InlineData("a\\udc00b", TextKind.Value)]
    [InlineData("\\ud800\\ud800", TextKind.Line)]
    [InlineData("\\ude00x", TextKind.Prose)]
    [InlineData("line\nbreak", TextKind.Line)]
    [InlineData("tab\t", TextKind.Line)]
    [InlineData("escape\u001b[2J", TextKind.Prose)]
    [InlineData("c1\u0085", TextKind.Prose)]
    public void Refuses_nul_anywhere_lone_surrogates_and_controls_its_kind_does_not_allow(string escaped, TextKind kind)
    {
        // Lone surrogates are written escaped: xUnit would replace them on the way to the test.
        var text = System.Text.RegularExpressions.Regex.Unescape(escaped);
        var errors = new ValidationErrors();

        Assert.False(TextRules.Check(errors, "field", text, kind));

        Assert.Equal(["field"], errors.ToDictionary().Keys);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0xC3, 0xA9 }, true)]
    [InlineData(new byte[] { 0x61, 0xFF }, false)]
    [InlineData(new byte[] { 0xC0, 0x80 }, false)]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, false)]
    [InlineData(new byte[] { 0xE2, 0x82 }, false)]
    public void Valid_utf8_is_told_from_invalid(byte[] bytes, bool valid)
    {
        Assert.Equal(valid, TextRules.IsValidUtf8(bytes));
    }
}
