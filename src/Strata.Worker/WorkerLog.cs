using System.Globalization;

namespace Strata.Worker;

/// <summary>
/// The worker's diagnostics in worker.log. Lines are held in memory until <see cref="Open"/>, so
/// nothing but the spawn sits on the path to the job's first instruction, and so the line that
/// says how limits are enforced is always the first.
/// </summary>
internal sealed class WorkerLog(string path, TimeProvider time) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<string> _pending = [];
    private StreamWriter? _writer;
    private bool _opened;

    /// <summary>Starts the file with <c>limits: &lt;description&gt;</c>, then writes what was held back.</summary>
    public void Open(string limitsDescription)
    {
        lock (_lock)
        {
            if (_opened)
            {
                return;
            }
            _opened = true;
            try
            {
                _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
                _writer.WriteLine($"limits: {limitsDescription}");
                foreach (var line in _pending)
                {
                    _writer.WriteLine(line);
                }
            }
            catch (IOException) { _writer = null; }
            catch (UnauthorizedAccessException) { _writer = null; }
            _pending.Clear();
        }
    }

    public void Write(string message)
    {
        var line = $"{time.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)} {message}";
        lock (_lock)
        {
            if (!_opened)
            {
                _pending.Add(line);
                return;
            }
            try { _writer?.WriteLine(line); }
            catch (IOException) { }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _writer?.Dispose();
            _writer = null;
        }
    }
}
