using Microsoft.ML;
using Microsoft.ML.Data;

namespace Strata.Worker.Training;

/// <summary>
/// An ML.NET data view over columns already in memory (float, bool or text arrays of one length), so
/// that each CSV column keeps its own name and type: the saved model's inputs are the data's columns.
/// </summary>
public sealed class TableDataView : IDataView
{
    private readonly Array[] _columns;
    private readonly int _rows;

    public TableDataView(IReadOnlyList<(string Name, Array Values)> columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var (name, values) in columns)
        {
            builder.AddColumn(name, values switch
            {
                float[] => NumberDataViewType.Single,
                bool[] => BooleanDataViewType.Instance,
                string[] => TextDataViewType.Instance,
                _ => throw new ArgumentException($"column '{name}' has an unsupported type {values.GetType()}"),
            });
        }
        Schema = builder.ToSchema();
        _columns = [.. columns.Select(c => c.Values)];
        _rows = _columns.Length == 0 ? 0 : _columns[0].Length;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(TableDataView view) : DataViewRowCursor
    {
        private long _position = -1;

        public override long Position => _position;

        public override long Batch => 0;

        public override DataViewSchema Schema => view.Schema;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override bool MoveNext()
        {
            if (_position + 1 >= view._rows) return false;
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            Delegate getter = view._columns[column.Index] switch
            {
                float[] numbers => (ValueGetter<float>)((ref float value) => value = numbers[_position]),
                bool[] flags => (ValueGetter<bool>)((ref bool value) => value = flags[_position]),
                string[] texts => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> value) => value = texts[_position].AsMemory()),
                _ => throw new InvalidOperationException("unsupported column type"),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}");
        }
    }
}
