using System.Globalization;
using System.Text;

namespace Strata.Server.Dashboard.Shared;

/// <summary>The ranges a chart's axes cover: steps (or milliseconds since the first point) on x, values on y.</summary>
public sealed record ChartBounds(long MinX, long MaxX, double MinValue, double MaxValue)
{
    /// <summary>The bounds that hold every finite point of every series (one chart overlaying several runs shares them).</summary>
    public static ChartBounds Of(IEnumerable<IReadOnlyList<(long X, double Value)>> series)
    {
        var finite = series.SelectMany(s => s).Where(p => double.IsFinite(p.Value)).ToList();
        return finite.Count == 0
            ? new ChartBounds(0, 0, 0, 0)
            : new ChartBounds(finite.Min(p => p.X), finite.Max(p => p.X), finite.Min(p => p.Value), finite.Max(p => p.Value));
    }
}

/// <summary>A metric's points scaled into an SVG's box within <see cref="Bounds"/>: step or time on x, value on y (larger values higher).</summary>
public sealed record Chart(ChartBounds Bounds, string Polyline, List<(string X, string Y)> Dots)
{
    public const int Width = 480;
    public const int Height = 200;
    public const int Pad = 24;

    public static Chart Of(IReadOnlyList<(long X, double Value)> points) => Of(points, ChartBounds.Of([points]));

    public static Chart Of(IReadOnlyList<(long X, double Value)> points, ChartBounds bounds)
    {
        var xSpan = Math.Max(1, bounds.MaxX - bounds.MinX);
        var valueSpan = bounds.MaxValue > bounds.MinValue ? bounds.MaxValue - bounds.MinValue : 1;
        var line = new StringBuilder(points.Count * 12);
        var dots = new List<(string, string)>(points.Count);
        foreach (var (at, value) in points)
        {
            if (!double.IsFinite(value)) continue;
            var x = (Pad + (Width - 2.0 * Pad) * (at - bounds.MinX) / xSpan).ToString("0.#", CultureInfo.InvariantCulture);
            var y = (Height - Pad - (Height - 2.0 * Pad) * (value - bounds.MinValue) / valueSpan).ToString("0.#", CultureInfo.InvariantCulture);
            line.Append(x).Append(',').Append(y).Append(' ');
            dots.Add((x, y));
        }
        return new Chart(bounds, line.ToString().TrimEnd(), dots);
    }
}
