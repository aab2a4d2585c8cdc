namespace Strata.Contracts;

/// <summary>
/// Finding the word someone meant, for "did you mean …?" in the server's problems and the CLI's errors alike,
/// so that both suggest the same word for the same typo.
/// </summary>
public static class Words
{
    /// <summary>The candidate nearest to <paramref name="typed"/>, when it is near enough to be a typo of it.</summary>
    public static string? Nearest(string typed, IEnumerable<string> candidates) =>
        candidates.Select(c => (Word: c, Distance: EditDistance(typed, c)))
            .Where(c => c.Distance <= Math.Max(2, typed.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Word)
            .FirstOrDefault();

    /// <summary>How many single-character edits (insert, delete, replace; case ignored) make one word the other.</summary>
    public static int EditDistance(string from, string to)
    {
        var row = Enumerable.Range(0, to.Length + 1).ToArray();
        for (var i = 1; i <= from.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= to.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (char.ToLowerInvariant(from[i - 1]) == char.ToLowerInvariant(to[j - 1]) ? 0 : 1));
                diagonal = above;
            }
        }

        return row[to.Length];
    }
}
