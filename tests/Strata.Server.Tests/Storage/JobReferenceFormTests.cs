using Strata.Server.Storage;

namespace Strata.Server.Tests.Storage;

/// <summary>Which references are tried as an id prefix: the start of an id's form, 4 characters at least (JobStore).</summary>
public sealed class JobReferenceFormTests
{
    [Theory]
    [InlineData("01a2", true)]
    [InlineData("01a25206", true)]
    [InlineData("01a25206-", true)]
    [InlineData("01a25206-a3c5-75b4-a731-5dd571d2eca", true)]
    [InlineData("01a", false)]
    [InlineData("01a25206-a3c5-75b4-a731-5dd571d2ecac", false)]
    [InlineData("01A2", false)]
    [InlineData("01a2-", false)]
    [InlineData("01a252060", false)]
    [InlineData("nightly", false)]
    [InlineData("beef", true)]
    public void A_prefix_has_the_form_of_an_ids_start_in_lower_case(string reference, bool isPrefix) =>
        Assert.Equal(isPrefix, JobStore.IsIdPrefix(reference));
}
