using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Strata.Cli;

/// <summary>Parsers that give a person-readable error instead of a .NET type name.</summary>
public static class CliOptions
{
    /// <summary><c>--on-quota-exceeded queue|reject</c> of the commands that submit a job (the spec's <c>on_quota_exceeded</c>).</summary>
    public static Option<string?> OnQuotaExceeded()
    {
        var option = new Option<string?>("--on-quota-exceeded")
        {
            Description = "Over the tenant's quota: queue (wait as waiting_for_quota) or reject (a 429); default: the tenant's setting",
        };
        option.AcceptOnlyFromAmong("queue", "reject");
        return option;
    }

    /// <summary>A number (decimals allowed), or a parse error naming the option.</summary>
    public static double? ParseDouble(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        var name = (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
        result.AddError($"{name} expects a number, not \"{text}\"");
        return null;
    }

    /// <summary>A whole number, or a parse error naming the option.</summary>
    public static int? ParseInt(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        var name = (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
        result.AddError($"{name} expects a whole number, not \"{text}\"");
        return null;
    }

    /// <summary>A whole number above zero, or a parse error naming the option.</summary>
    public static int? ParsePositiveInt(ArgumentResult result)
    {
        // In the parser, not a validator: a validator that reads the value throws where the parse failed.
        var value = ParseInt(result);
        if (value is <= 0)
        {
            var name = (result.Parent as OptionResult)?.Option.Name ?? result.Argument.Name;
            result.AddError($"{name} must be positive, not {value}");
            return null;
        }
        return value;
    }
}
