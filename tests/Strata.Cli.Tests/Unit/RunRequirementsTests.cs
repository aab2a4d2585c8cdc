using Spectre.Console.Testing;
using Strata.Cli.Commands;
using Strata.Cli.Tests.Support;

namespace Strata.Cli.Tests.Unit;

/// <summary><c>strata run</c> builds the job's Python environment from the project's requirements file.</summary>
public sealed class RunRequirementsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestConsole _console = new();

    public RunRequirementsTests() => _console.Profile.Width = 200;

    public void Dispose() => _dir.Dispose();

    private void Write(string relative)
    {
        var path = Path.Combine(_dir.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "pandas\n");
    }

    [Fact]
    public void A_requirements_txt_at_the_top_of_the_folder_is_used_and_said_in_one_line()
    {
        Write("requirements.txt");

        var environment = RunCommand.EnvironmentOf(_console, _dir.Path, null, none: false, _dir.Path);

        Assert.Equal("requirements.txt", environment!.Requirements!.Value.GetString());
        Assert.Equal("Using requirements.txt for the job's Python environment (--no-requirements skips it)", _console.Output.Trim());
    }

    [Fact]
    public void A_folder_without_one_gets_no_environment_and_no_line()
    {
        Assert.Null(RunCommand.EnvironmentOf(_console, _dir.Path, null, none: false, _dir.Path));
        Assert.Empty(_console.Output);
    }

    [Fact]
    public void No_requirements_turns_it_off()
    {
        Write("requirements.txt");

        Assert.Null(RunCommand.EnvironmentOf(_console, _dir.Path, null, none: true, _dir.Path));
    }

    [Fact]
    public void An_explicit_file_is_named_relative_to_the_folder_and_must_lie_in_it()
    {
        Write("ml/requirements-gpu.txt");
        var outside = Path.Combine(Path.GetDirectoryName(_dir.Path)!, "elsewhere.txt");

        var environment = RunCommand.EnvironmentOf(_console, _dir.Path, "ml/requirements-gpu.txt", none: false, _dir.Path);

        Assert.Equal("ml/requirements-gpu.txt", environment!.Requirements!.Value.GetString());
        Assert.Contains("is not in", Assert.Throws<UsageException>(() => RunCommand.EnvironmentOf(_console, _dir.Path, outside, none: false, _dir.Path)).Message, StringComparison.Ordinal);
        Assert.Contains("there is no file", Assert.Throws<UsageException>(() => RunCommand.EnvironmentOf(_console, _dir.Path, "missing.txt", none: false, _dir.Path)).Message, StringComparison.Ordinal);
    }
}
