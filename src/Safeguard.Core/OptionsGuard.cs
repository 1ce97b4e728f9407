using Microsoft.Extensions.Options;

namespace Safeguard;

/// <summary>
/// Runs a type's own validator where its options are consumed. A host validates every option at start
/// (<c>ValidateOnStart</c>, every error at once); the security-critical types check theirs again on construction, so
/// one built by hand (a tool, a test, a future host) cannot run on insecure settings either. The rules live once, in
/// the validator.
/// </summary>
internal static class OptionsGuard
{
    public static TOptions Validated<TOptions>(IValidateOptions<TOptions> validator, IOptions<TOptions> options)
        where TOptions : class
    {
        var value = options.Value;
        var result = validator.Validate(Options.DefaultName, value);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), result.Failures);
        }

        return value;
    }
}
