using System.Globalization;

namespace Strata.Server.Dashboard.Shared;

/// <summary>
/// Stacked bars in an SVG box of <see cref="Chart"/>'s size: one bar per label, its parts stacked from the
/// bottom in the order given, all on one scale from 0 to the tallest bar.
/// </summary>
public sealed record BarChart(double Max, IReadOnlyList<BarChart.Bar> Bars)
{
    /// <summary>One bar: its label and, per part, the y and height of its rectangle (SVG units, as text).</summary>
    public sealed record Bar(string Label, string X, string Width, IReadOnlyList<(string Y, string Height)> Parts, double Total);

    public static BarChart Of(IReadOnlyList<(string Label, double[] Parts)> bars)
    {
        var max = bars.Count == 0 ? 0 : bars.Max(b => b.Parts.Sum());
        var slot = (Chart.Width - 2.0 * Chart.Pad) / Math.Max(1, bars.Count);
        var plot = Chart.Height - 2.0 * Chart.Pad;
        var result = new List<Bar>(bars.Count);
        for (var i = 0; i < bars.Count; i++)
        {
            double bottom = Chart.Height - Chart.Pad;
            var parts = new List<(string, string)>(bars[i].Parts.Length);
            foreach (var part in bars[i].Parts)
            {
                var height = max > 0 ? plot * part / max : 0;
                bottom -= height;
                parts.Add((Number(bottom), Number(height)));
            }
            // A gap of a fifth of the slot between bars, so that neighbouring days read apart.
            result.Add(new Bar(bars[i].Label, Number(Chart.Pad + slot * i + slot * 0.1), Number(slot * 0.8), parts, bars[i].Parts.Sum()));
        }
        return new BarChart(max, result);
    }

    private static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
