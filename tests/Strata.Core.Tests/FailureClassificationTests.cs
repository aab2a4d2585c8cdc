using Strata.Contracts;
using Strata.Core.Attempts;
using Strata.Core.Runtime;

namespace Strata.Core.Tests;

/// <summary>Every row of "why did this attempt fail, and what comes next": classification, then decision.</summary>
public sealed class FailureClassificationTests
{
    private static readonly RetryRules Rules = new(RetryOnExitCodes: [75], FailOnExitCodes: [3], RetryOnTimeout: false, MemoryGrowth: 1.5);

    public static TheoryData<string, AttemptOutcome, bool, string> ClassRows => new()
    {
        // case, outcome, marked preempted, class
        { "cgroup OOM kill", new AttemptOutcome.OutOfMemory { ExitCode = 137, Signal = 9 }, false, "out_of_memory" },
        { "non-zero exit", new AttemptOutcome.ExitedWithError { ExitCode = 1 }, false, "user_error" },
        { "ValueError traceback", new AttemptOutcome.ExitedWithError { ExitCode = 1, Exception = "ValueError: bad row 7" }, false, "user_error" },
        { "code error beats retry_on_exit_codes", new AttemptOutcome.ExitedWithError { ExitCode = 75, Exception = "KeyError: 'lr'" }, false, "user_error" },
        { "fail_on_exit_codes", new AttemptOutcome.ExitedWithError { ExitCode = 3 }, false, "user_error" },
        { "retry_on_exit_codes", new AttemptOutcome.ExitedWithError { ExitCode = 75 }, false, "infrastructure" },
        { "a non-code exception with a listed code", new AttemptOutcome.ExitedWithError { ExitCode = 75, Exception = "ConnectionResetError: peer" }, false, "infrastructure" },
        { "killed by someone else (SIGKILL)", new AttemptOutcome.ExitedWithError { ExitCode = 137, Signal = 9 }, false, "infrastructure" },
        { "killed by someone else (SIGTERM)", new AttemptOutcome.ExitedWithError { ExitCode = 143, Signal = 15 }, false, "infrastructure" },
        { "its own segfault", new AttemptOutcome.ExitedWithError { ExitCode = 139, Signal = 11 }, false, "user_error" },
        { "supervisor or node lost", new AttemptOutcome.SupervisorLost(), false, "infrastructure" },
        { "pod evicted (DisruptionTarget)", new AttemptOutcome.Evicted(), false, "infrastructure" },
        { "start failed", new AttemptOutcome.StartFailed(), false, "infrastructure" },
        { "stopped by Strata (eviction)", new AttemptOutcome.Stopped(), false, "infrastructure" },
        { "time-out", new AttemptOutcome.TimedOut(), false, "timed_out" },
        { "over its disk limit", new AttemptOutcome.DiskLimitExceeded(), false, "user_error" },
        { "model not registered", new AttemptOutcome.ModelRegistrationFailed(), false, "user_error" },
        { "environment not built (pip failed)", new AttemptOutcome.EnvironmentError(), false, "user_error" },
        { "preempted", new AttemptOutcome.Stopped(), true, "preempted" },
        { "preempted, died first", new AttemptOutcome.ExitedWithError { ExitCode = 1 }, true, "preempted" },
    };

    [Theory]
    [MemberData(nameof(ClassRows))]
    public void Each_failure_has_one_class(string @case, AttemptOutcome outcome, bool markedPreempted, string expected)
    {
        var actual = FailureClassifier.Classify(outcome, markedPreempted, Rules);

        Assert.True(expected == actual?.ToWire(), $"{@case}: {actual}");
    }

    [Fact]
    public void A_success_has_no_class() =>
        Assert.Null(FailureClassifier.Classify(new AttemptOutcome.Succeeded(), markedPreempted: true, Rules));

    public static TheoryData<string, AttemptOutcome, RetryRules, int, double?, string, string> DecisionRows => new()
    {
        // case, outcome, rules, attempt number (of 3), memory max grantable (the attempt ran with 1 GB), decision, the job's message (contains)
        { "OOM: retried with 1.5 × memory, rounded up", new AttemptOutcome.OutOfMemory(), RetryRules.Default, 1, 8, "retry", "(out_of_memory: memory_gb 1 -> 2)" },
        { "OOM: the quota cannot grant it", new AttemptOutcome.OutOfMemory(), RetryRules.Default, 1, 1.5, "fail", "a retry needs 2 GB of memory, more than the tenant's quota and the runtime's capacity grant (1.5 GB)" },
        { "OOM: no attempts left", new AttemptOutcome.OutOfMemory(), RetryRules.Default, 3, 8, "fail", "(out_of_memory: not retried: 3 attempts used)" },
        { "OOM: nothing known of the quota", new AttemptOutcome.OutOfMemory(), RetryRules.Default, 1, null, "fail", "(out_of_memory: not retried)" },
        { "user error: quotes the exception", new AttemptOutcome.ExitedWithError { ExitCode = 1, Exception = "ValueError: bad row 7" }, RetryRules.Default, 1, 8, "fail", "exited with code 1: ValueError: bad row 7 (user_error: not retried)" },
        { "user error: listed code", new AttemptOutcome.ExitedWithError { ExitCode = 3 }, Rules, 1, 8, "fail", "(user_error: not retried)" },
        { "infrastructure: listed code", new AttemptOutcome.ExitedWithError { ExitCode = 75 }, Rules, 1, 8, "retry", "(infrastructure: backoff " },
        { "infrastructure: lost", new AttemptOutcome.SupervisorLost(), RetryRules.Default, 2, 8, "retry", "(infrastructure: backoff " },
        { "infrastructure: evicted", new AttemptOutcome.Evicted { Message = "its pod was evicted (EvictionByEvictionAPI)" }, RetryRules.Default, 1, 8, "retry", "its pod was evicted (EvictionByEvictionAPI)); retrying (infrastructure: backoff " },
        { "infrastructure: no attempts left", new AttemptOutcome.SupervisorLost(), RetryRules.Default, 3, 8, "fail", "(infrastructure: not retried: 3 attempts used)" },
        { "infrastructure: stopped by Strata", new AttemptOutcome.Stopped(), RetryRules.Default, 1, 8, "fail", "(infrastructure: stopped by Strata, not retried)" },
        { "time-out: fails by default", new AttemptOutcome.TimedOut(), RetryRules.Default, 1, 8, "fail", "(timed_out: not retried; retry.on_timeout is fail)" },
        { "time-out: on_timeout retry", new AttemptOutcome.TimedOut(), RetryRules.Default with { RetryOnTimeout = true }, 1, 8, "retry", "(timed_out: retry.on_timeout is retry)" },
        { "time-out: on_timeout retry, no attempts left", new AttemptOutcome.TimedOut(), RetryRules.Default with { RetryOnTimeout = true }, 3, 8, "fail", "(timed_out: not retried: 3 attempts used)" },
        { "disk limit", new AttemptOutcome.DiskLimitExceeded(), RetryRules.Default, 1, 8, "fail", "(user_error: not retried)" },
        { "environment error: quotes pip", new AttemptOutcome.EnvironmentError { Message = "the Python environment could not be built (pip exited with code 1):\nERROR: No matching distribution found for nope" }, RetryRules.Default, 1, 8, "fail", "No matching distribution found for nope (user_error: not retried)" },
    };

    [Theory]
    [MemberData(nameof(DecisionRows))]
    public void Each_class_decides_the_next_step(string @case, AttemptOutcome outcome, RetryRules rules, int number, double? maxMemoryGb, string decision, string message)
    {
        var end = new AttemptEnd(outcome, number, MarkedPreempted: false, JobStatus.Running, number, Preemptions: 0, MaxAttempts: 3, BackoffSeconds: 10)
        {
            Rules = rules,
            MemoryGb = 1,
            MaxMemoryGb = maxMemoryGb,
        };

        var actual = AttemptPolicy.Decide(end);

        Assert.True(decision == actual.Decision, $"{@case}: {actual.Decision} {actual.Job}");
        var text = actual.Job switch { JobNext.Fail f => f.Message, JobNext.Retry r => r.Message, _ => "" };
        Assert.True(text.Contains(message, StringComparison.Ordinal), $"{@case}: {text}");
        Assert.NotNull(actual.Classification);
    }

    [Fact]
    public void An_out_of_memory_retry_carries_the_grown_memory_and_waits_for_nothing()
    {
        var end = new AttemptEnd(new AttemptOutcome.OutOfMemory(), 1, false, JobStatus.Running, 1, 0, 3, 10) { MemoryGb = 3, MaxMemoryGb = 16 };

        var retry = Assert.IsType<JobNext.Retry>(AttemptPolicy.Decide(end).Job);

        Assert.Equal(5, retry.MemoryGb); // 4.5 rounded up
        Assert.Equal(TimeSpan.Zero, retry.Delay);
    }

    [Fact]
    public void A_preemption_is_classified_and_requeued()
    {
        var decision = AttemptPolicy.Decide(new AttemptEnd(new AttemptOutcome.Stopped(), 1, true, JobStatus.Running, 1, 0, 3, 10));

        Assert.Equal("requeue", decision.Decision);
        Assert.Equal(FailureClass.Preempted, decision.Classification);
    }

    [Theory]
    // failure number, base, jitter sample: seconds
    [InlineData(1, 10, 1.0, 10)]
    [InlineData(1, 10, 0.5, 5)]
    [InlineData(1, 10, 0.0, 0)]
    [InlineData(3, 10, 0.25, 10)]
    [InlineData(9, 10, 1.0, 300)]
    [InlineData(9, 10, 0.5, 150)]
    [InlineData(1, 3600, 0.1, 30)]
    public void The_backoff_is_full_jitter_under_min_300_and_base_times_two_to_the_n(int failure, int backoff, double jitter, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryPolicy.Backoff(failure, backoff, jitter));

    [Fact]
    public void The_jitter_comes_from_the_callers_source()
    {
        var random = new Random(42);
        var expected = new Random(42).NextDouble();
        var end = new AttemptEnd(new AttemptOutcome.SupervisorLost(), 2, false, JobStatus.Running, 2, 0, 3, 10) { Jitter = random.NextDouble() };

        var retry = Assert.IsType<JobNext.Retry>(AttemptPolicy.Decide(end).Job);

        Assert.Equal(RetryPolicy.Backoff(2, 10, expected), retry.Delay);
        Assert.True(retry.Delay <= TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData(1, 1.5, 2)]
    [InlineData(2, 1.5, 3)]
    [InlineData(3, 1.5, 5)]
    [InlineData(0.5, 1.5, 2)]
    [InlineData(4, 1, 5)] // at least 1 GB more
    [InlineData(4, 2, 8)]
    public void Memory_grows_by_the_factor_rounded_up_to_a_whole_gb(double memory, double growth, double grown) =>
        Assert.Equal(grown, RetryPolicy.GrowMemory(memory, growth));

    [Theory]
    [InlineData("Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    raise ValueError(\"bad row 7\")\nValueError: bad row 7\n", "ValueError: bad row 7", true)]
    [InlineData("epoch 1\nTraceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'lr'\r\n", "KeyError: 'lr'", true)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nZeroDivisionError: division by zero\n", "ZeroDivisionError: division by zero", true)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nModuleNotFoundError: No module named 'torch'\n", "ModuleNotFoundError: No module named 'torch'", true)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nAssertionError\n", "AssertionError", true)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nnumpy.core._exceptions.TypeError: x\n", "numpy.core._exceptions.TypeError: x", true)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nConnectionResetError: [Errno 104] peer\n", "ConnectionResetError: [Errno 104] peer", false)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: first\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"a.py\", line 3\nRuntimeError: second\n", "RuntimeError: second", false)]
    [InlineData("loss 0.3\nValueError: printed, not raised\n", null, false)]
    [InlineData("Traceback (most recent call last):\n  File \"<string>\", line 1\nloading\nepoch: 3\nValueError: bad row 7\n", "ValueError: bad row 7", true)] // stdout interleaved
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyboardInterrupt\n", "KeyboardInterrupt", false)]
    [InlineData("", null, false)]
    [InlineData("Traceback (most recent call last):\n  File \"a.py\", line 1\n", null, false)]
    public void The_last_exception_of_the_last_traceback_is_found(string tail, string? line, bool codeError)
    {
        Assert.Equal(line, Tracebacks.LastException(tail));
        Assert.Equal(codeError, Tracebacks.IsCodeError(Tracebacks.LastException(tail)));
    }

    [Theory]
    // The tail, and the message the job reported: the last STRATA_ERROR line, after a logging prefix ending in a space too.
    [InlineData("loading\nSTRATA_ERROR the label column 'Label' is not in the data\n", "the label column 'Label' is not in the data")]
    [InlineData("STRATA_ERROR first\nmore output\n2026-12-07 ERROR STRATA_ERROR second\r\n", "second")]
    [InlineData("xSTRATA_ERROR glued to a word\n", null)]
    [InlineData("STRATA_ERROR   \n", null)]
    [InlineData("Traceback (most recent call last):\n  x\nValueError: bad\n", null)]
    [InlineData(null, null)]
    public void The_last_reported_error_is_found(string? tail, string? message) =>
        Assert.Equal(message, Tracebacks.LastReportedError(tail));

    [Fact]
    public void A_long_exception_line_is_cut() =>
        Assert.Equal(Tracebacks.MaxLineLength + 1, Tracebacks.LastException("Traceback (most recent call last):\n  x\nValueError: " + new string('a', 2000))!.Length);

    [Fact]
    public void The_rules_come_from_the_spec()
    {
        var rules = RetryRules.From(new RetrySpec { RetryOnExitCodes = [75], FailOnExitCodes = [3], OnTimeout = "retry", MemoryGrowth = 2 });

        Assert.Equal([75], rules.RetryOnExitCodes);
        Assert.Equal([3], rules.FailOnExitCodes);
        Assert.True(rules.RetryOnTimeout);
        Assert.Equal(2, rules.MemoryGrowth);
        Assert.Equal(RetryRules.Default, RetryRules.From(null));
    }
}
