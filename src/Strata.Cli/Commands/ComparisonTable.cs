using Spectre.Console;

namespace Strata.Cli.Commands;

/// <summary>
/// Runs or versions side by side (<c>strata jobs compare</c>, <c>strata models compare</c>), within a width: a value longer than its column may be is cut with
/// '…', and the runs are split into blocks of as many columns as fit, each block repeating the row labels. Without a
/// width (<c>--wide</c>) it is one table with every value whole.
/// </summary>
public sealed class ComparisonTable(IReadOnlyList<(string Title, string Subtitle)> columns)
{
    /// <summary>What the comparisons fit by default: a common terminal's width, and what a log line should stay within.</summary>
    public const int DefaultWidth = 120;
    private const int MaxLabelWidth = 28;
    private const int MaxValueWidth = 28;
    private const int MinValueWidth = 8;
    // A square-bordered table adds a space on each side of every cell and a line between and around them.
    private const int CellFrame = 3;

    /// <summary>A value as text, and the markup to show instead when it is not cut (a coloured status).</summary>
    public sealed record Cell(string Text, string? Markup = null);

    private sealed record Row(string Label, IReadOnlyList<Cell?> Cells, bool IsSection, bool Differs = false);

    private readonly List<Row> _rows = [];

    /// <summary>
    /// A row of values, one per run; null shows as a grey '-'. With <paramref name="differs"/>, the rows are marked:
    /// <c>* </c> before the label and the values in yellow where they differ, two spaces where they do not.
    /// </summary>
    public void Add(string label, IEnumerable<Cell?> cells, bool? differs = null) =>
        _rows.Add(new Row(differs switch { true => "* " + label, false => "  " + label, null => label }, [.. cells], false, differs == true));

    /// <summary>A section's heading; <paramref name="empty"/> says why it has no rows (shown under the first run).</summary>
    public void Section(string title, string? empty = null) =>
        _rows.Add(new Row(title, [.. columns.Select((_, i) => i == 0 && empty is not null ? new Cell(empty) : null)], true));

    /// <param name="width">The most columns of text a line may take; null for one table of whole values.</param>
    public void Write(IAnsiConsole console, int? width)
    {
        var labelWidth = Fit(_rows.Select(r => Flat(r.Label).Length).Append(1).Max(), MaxLabelWidth, width);
        var widths = columns.Select((column, i) => Fit(
            _rows.Select(r => r.Cells[i] is { } cell ? Flat(cell.Text).Length : 1).Append(column.Title.Length).Append(column.Subtitle.Length).Max(),
            MaxValueWidth, width)).ToArray();
        foreach (var block in Blocks(labelWidth, widths, width))
        {
            var table = new Table();
            // Whole values (no width) are laid out by the table itself, wrapped where the terminal is narrower.
            table.AddColumn(new TableColumn("") { Width = width is null ? null : labelWidth, NoWrap = width is not null });
            foreach (var i in block)
            {
                var subtitle = columns[i].Subtitle.Length == 0 ? "" : $"\n[grey]{Markup.Escape(Cut(columns[i].Subtitle, widths[i]))}[/]";
                table.AddColumn(new TableColumn($"[bold]{Markup.Escape(Cut(columns[i].Title, widths[i]))}[/]{subtitle}")
                {
                    Width = width is null ? null : widths[i],
                    NoWrap = width is not null,
                });
            }
            foreach (var row in _rows)
            {
                var label = Markup.Escape(Cut(row.Label, labelWidth));
                table.AddRow([
                    row.IsSection ? $"[bold underline]{label}[/]" : label,
                    .. block.Select(i => row.Differs && row.Cells[i] is not null ? $"[yellow]{Show(row.Cells[i], widths[i], false)}[/]" : Show(row.Cells[i], widths[i], row.IsSection)),
                ]);
            }
            console.Write(table);
        }
    }

    /// <summary>The runs of each table: all of them without a width, else as many as fit beside the labels (one at least, narrowed to fit).</summary>
    private static List<List<int>> Blocks(int labelWidth, int[] widths, int? width)
    {
        var start = 1 + labelWidth + CellFrame;
        var blocks = new List<List<int>> { new() };
        var used = start;
        for (var i = 0; i < widths.Length; i++)
        {
            if (width is { } limit)
            {
                if (blocks[^1].Count > 0 && used + widths[i] + CellFrame > limit)
                {
                    blocks.Add([]);
                    used = start;
                }
                widths[i] = Math.Min(widths[i], Math.Max(MinValueWidth, limit - used - CellFrame));
            }
            blocks[^1].Add(i);
            used += widths[i] + CellFrame;
        }
        return blocks;
    }

    private static string Show(Cell? cell, int width, bool isSection)
    {
        if (cell is null) return isSection ? "" : "[grey]-[/]";
        var text = Cut(cell.Text, width);
        if (isSection) return $"[grey]{Markup.Escape(text)}[/]";
        return cell.Markup is not null && text == Flat(cell.Text) ? cell.Markup : Markup.Escape(text);
    }

    private static int Fit(int length, int max, int? width) => width is null ? length : Math.Min(length, max);

    /// <summary>One line: a value's line breaks (an entrypoint's script) become spaces.</summary>
    private static string Flat(string text) => text.ReplaceLineEndings(" ");

    private static string Cut(string text, int width)
    {
        var flat = Flat(text);
        return flat.Length <= width ? flat : flat[..(width - 1)] + "…";
    }
}
