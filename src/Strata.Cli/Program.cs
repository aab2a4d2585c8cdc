namespace Strata.Cli;

/// <summary>The <c>strata</c> executable. Named inside a namespace so it never clashes with the server's <c>Program</c> in tests.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => CliApp.CreateDefault().RunAsync(args);
}
