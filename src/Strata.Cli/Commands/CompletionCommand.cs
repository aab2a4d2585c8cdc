using System.CommandLine;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata completion bash|zsh|fish</c>: prints a shell script that completes <c>strata</c>'s commands, options
/// and option values. The scripts ask <c>strata</c> itself through System.CommandLine's <c>[suggest]</c>
/// directive (<c>strata "[suggest:9]" "strata jo"</c> prints <c>jobs</c>), so they never go stale as commands change,
/// and need no <c>dotnet-suggest</c>.
/// </summary>
public static class CompletionCommand
{
    public static readonly IReadOnlyDictionary<string, string> Scripts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // COMP_LINE up to the cursor is what the directive completes; DOS-style /? and /h are not offered.
        ["bash"] = """
            # strata completion for bash. Load it with: source <(strata completion bash)
            # or save it: strata completion bash > ~/.local/share/bash-completion/completions/strata
            _strata_complete() {
                local line="${COMP_LINE:0:COMP_POINT}"
                local word="${COMP_WORDS[COMP_CWORD]}"
                local candidate
                COMPREPLY=()
                while IFS= read -r candidate; do
                    [[ "$candidate" == /* ]] && continue
                    [[ "$candidate" == "$word"* ]] && COMPREPLY+=("$candidate")
                done < <("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null)
            }
            complete -o default -F _strata_complete strata
            """,
        ["zsh"] = """
            #compdef strata
            # strata completion for zsh. Load it with: source <(strata completion zsh)
            # or save it as _strata in a folder of $fpath.
            _strata() {
                local line="${BUFFER[1,CURSOR]}"
                local -a candidates
                candidates=("${(@f)$(${words[1]} "[suggest:${#line}]" "$line" 2>/dev/null)}")
                candidates=(${candidates:#/*})
                compadd -a candidates
            }
            if [ "$funcstack[1]" = "_strata" ]; then
                _strata "$@"
            else
                compdef _strata strata
            fi
            """,
        ["fish"] = """
            # strata completion for fish. Load it with: strata completion fish | source
            # or save it: strata completion fish > ~/.config/fish/completions/strata.fish
            function __strata_complete
                set -l line (commandline -cp)
                strata "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null | string match -v -r '^/'
            end
            complete -c strata -a '(__strata_complete)'
            """,
    };

    public static Command Create(CliContext cli)
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong([.. Scripts.Keys]);
        var command = new Command("completion", "Print a script that completes strata's commands and options in bash, zsh or fish") { shell };
        command.SetAction(parse =>
        {
            Output.WriteRaw(cli.Out, Scripts[parse.GetValue(shell)!]);
            return ExitCodes.Success;
        });
        return command;
    }
}
