using System.Text;

namespace Strata.Worker.Training;

/// <summary>
/// A CSV file read whole into memory as text cells (RFC 4180: quoted fields may hold separators,
/// quotes and line breaks). The first row is the header. The separator is a comma, unless the header
/// has none and has tabs or semicolons.
/// </summary>
public sealed class CsvTable
{
    private CsvTable(List<string> columns, List<string[]> rows, List<int> lines)
    {
        Columns = columns;
        Rows = rows;
        Lines = lines;
    }

    public IReadOnlyList<string> Columns { get; }

    /// <summary>The data rows, each with one cell per column.</summary>
    public IReadOnlyList<string[]> Rows { get; }

    /// <summary>The file's line number (from 1, the header being line 1) where each row starts.</summary>
    public IReadOnlyList<int> Lines { get; }

    public static CsvTable Parse(string text)
    {
        var reader = new Reader(text);
        var header = reader.Next() ?? throw new TrainingDataException("the file is empty; it needs a header row and data rows");
        var columns = header.Cells.Select(c => c.Trim()).ToList();
        for (var i = 0; i < columns.Count; i++)
        {
            if (columns[i].Length == 0)
            {
                throw new TrainingDataException($"column {i + 1} of the header has no name");
            }
            var first = columns.IndexOf(columns[i]);
            if (first != i)
            {
                throw new TrainingDataException($"the header names column '{columns[i]}' twice (columns {first + 1} and {i + 1})");
            }
        }
        var rows = new List<string[]>();
        var lines = new List<int>();
        while (reader.Next() is { } row)
        {
            if (row.Cells.Count == 1 && row.Cells[0].Length == 0)
            {
                continue; // A blank line.
            }
            if (row.Cells.Count != columns.Count)
            {
                throw new TrainingDataException($"line {row.Line} has {row.Cells.Count} fields; the header has {columns.Count}");
            }
            rows.Add([.. row.Cells]);
            lines.Add(row.Line);
        }
        if (rows.Count == 0)
        {
            throw new TrainingDataException("the file has a header but no data rows");
        }
        return new CsvTable(columns, rows, lines);
    }

    private sealed class Reader(string text)
    {
        private readonly char _separator = DetectSeparator(text);
        private int _position = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        private int _line = 1;

        public (List<string> Cells, int Line)? Next()
        {
            if (_position >= text.Length)
            {
                return null;
            }
            var start = _line;
            var cells = new List<string>();
            var cell = new StringBuilder();
            var quoted = false;
            while (_position < text.Length)
            {
                var c = text[_position++];
                if (quoted)
                {
                    if (c == '"' && _position < text.Length && text[_position] == '"')
                    {
                        cell.Append('"');
                        _position++;
                    }
                    else if (c == '"')
                    {
                        quoted = false;
                    }
                    else
                    {
                        if (c == '\n') _line++;
                        cell.Append(c);
                    }
                }
                else if (c == '"' && cell.Length == 0)
                {
                    quoted = true;
                }
                else if (c == _separator)
                {
                    cells.Add(cell.ToString());
                    cell.Clear();
                }
                else if (c == '\n' || c == '\r')
                {
                    if (c == '\r' && _position < text.Length && text[_position] == '\n') _position++;
                    _line++;
                    cells.Add(cell.ToString());
                    return (cells, start);
                }
                else
                {
                    cell.Append(c);
                }
            }
            if (quoted)
            {
                throw new TrainingDataException($"line {start} opens a quoted field that never closes");
            }
            cells.Add(cell.ToString());
            return (cells, start);
        }

        private static char DetectSeparator(string text)
        {
            var end = text.IndexOfAny(['\r', '\n']);
            var header = end < 0 ? text : text[..end];
            if (header.Contains(',', StringComparison.Ordinal)) return ',';
            if (header.Contains('\t', StringComparison.Ordinal)) return '\t';
            if (header.Contains(';', StringComparison.Ordinal)) return ';';
            return ',';
        }
    }
}
