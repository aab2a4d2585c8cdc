using System.Globalization;
using System.Text;

namespace Strata.Server.Dashboard.Shared;

/// <summary>A metric's points scaled into an SVG's box: step on x, value on y (larger values higher).</summary>
public sealed record Chart(long MinStep, long MaxStep, double MinValue, double MaxValue, string Polyline, List<(string X, string Y)> Dots)
{
    public const int Width = 480;
    public const int Height = 200;
    public const int Pad = 24;

    public static Chart Of(IReadOnlyList<(long Step, double Value)> points)
    {
        var finite = points.Where(p => double.IsFinite(p.Value)).ToList();
        var (minStep, maxStep) = finite.Count == 0 ? (0L, 0L) : (finite.Min(p => p.Step), finite.Max(p => p.Step));
        var (minValue, maxValue) = finite.Count == 0 ? (0d, 0d) : (finite.Min(p => p.Value), finite.Max(p => p.Value));
        var stepSpan = Math.Max(1, maxStep - minStep);
        var valueSpan = maxValue > minValue ? maxValue - minValue : 1;
        var line = new StringBuilder(finite.Count * 12);
        var dots = new List<(string, string)>(finite.Count);
        foreach (var (step, value) in finite)
        {
            var x = (Pad + (Width - 2.0 * Pad) * (step - minStep) / stepSpan).ToString("0.#", CultureInfo.InvariantCulture);
            var y = (Height - Pad - (Height - 2.0 * Pad) * (value - minValue) / valueSpan).ToString("0.#", CultureInfo.InvariantCulture);
            line.Append(x).Append(',').Append(y).Append(' ');
            dots.Add((x, y));
        }
        return new Chart(minStep, maxStep, minValue, maxValue, line.ToString().TrimEnd(), dots);
    }
}
